"""compose.launcher: typed addresses of a stack, a service's process with overrides, cleanup."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import psycopg
import pytest

import compose.launcher
from compose.launcher import (
    EXPORTED,
    PORT_COUNT,
    StackAddresses,
    addresses,
    free_ports,
    isolated_env,
    isolated_stack,
    running_stack,
    service_program,
)
from compose.services import BY_NAME
from compose.settings import Settings
from compose.stack import program
from contracts.environment import DEFAULTS


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(isolated_env(tmp_path / "state", free_ports(PORT_COUNT)))


def test_addresses_are_typed_from_the_stacks_settings(settings: Settings) -> None:
    found = addresses(settings)
    assert found.kafka == settings.values["KAFKA_BROKER_URL"]
    assert found.connect_url == settings.connect_url
    assert found.write_url == f"http://127.0.0.1:{settings.cud_api_port}"
    assert found.read_url == f"http://127.0.0.1:{settings.read_api_port}"
    assert (found.mongo_url, found.mongo_db) == (settings.values["MONGO_URL"], "todos")
    assert (found.state_dir, found.partitions) == (settings.state_dir, 4)
    assert found.ports == {
        "postgres": settings.postgres_port,
        "kafka": settings.kafka_port,
        "connect": settings.connect_port,
        "ferretdb": settings.mongo_port,
        "cud_api": settings.cud_api_port,
        "streams": settings.read_api_port,
    }
    parts = psycopg.conninfo.conninfo_to_dict(found.postgres.conninfo)
    assert parts == {
        "host": "127.0.0.1",
        "port": str(settings.postgres_port),
        "dbname": DEFAULTS["POSTGRES_DB"],
        "user": DEFAULTS["POSTGRES_USER"],
        "password": DEFAULTS["POSTGRES_PASSWORD"],
    }


def test_addresses_are_frozen_and_do_not_print_the_password(settings: Settings) -> None:
    found = addresses(settings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.kafka = "elsewhere:9092"  # type: ignore[misc]
    assert DEFAULTS["POSTGRES_PASSWORD"] not in repr(found)


def test_the_env_holds_what_a_client_needs_and_nothing_else(settings: Settings) -> None:
    env = addresses(settings).env
    assert set(env) == set(EXPORTED)
    assert env["CUD_API_URL"] == addresses(settings).write_url
    assert env["TODO_EDA_STATE_DIR"] == str(settings.state_dir)
    assert len(env["DJANGO_SECRET_KEY"]) >= 50
    assert "PYTHONPATH" not in env and "DJANGO_SETTINGS_MODULE" not in env


def test_the_running_stack_is_read_from_the_environment(tmp_path: Path) -> None:
    found = running_stack({"TODO_EDA_STATE_DIR": str(tmp_path), "CUD_API_PORT": "18000"})
    assert isinstance(found, StackAddresses)
    assert found.write_url == "http://127.0.0.1:18000"
    assert found.kafka == DEFAULTS["KAFKA_BROKER_URL"]
    assert found.state_dir == tmp_path


def test_a_service_program_is_the_launchers_own_with_the_overrides(settings: Settings) -> None:
    stack = addresses(settings)
    port = free_ports(1)[0]
    overrides = {"STREAMS_APP_ID": "replay-1", "STREAMS_AGENTS": "project_changes"}
    worker = service_program(stack, "streams", {**overrides, "READ_API_PORT": str(port)})

    own = program(BY_NAME["streams"], settings)
    web_port = own.command.index("--web-port") + 1
    expected = [*own.command[:web_port], str(port), *own.command[web_port + 1 :]]
    assert worker.command == expected
    assert worker.directory == own.directory
    assert worker.environment["READ_API_URL"] == f"http://127.0.0.1:{port}"
    for name, value in overrides.items():
        assert worker.environment[name] == value
    for name in ("KAFKA_BROKER_URL", "POSTGRES_PORT", "MONGO_URL", "DJANGO_SECRET_KEY"):
        assert worker.environment[name] == own.environment[name], name


def test_an_isolated_stack_gets_the_extra_variables_and_cleans_up_a_failed_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Settings] = []

    def failing_install(settings: Settings) -> None:
        seen.append(settings)
        raise RuntimeError("no binaries")

    monkeypatch.setattr(compose.launcher, "install", failing_install)
    monkeypatch.delenv("TODO_EDA_KEEP_TEST_STATE", raising=False)
    with (
        pytest.raises(RuntimeError, match="no binaries"),
        isolated_stack("postgres,kafka", env={"READ_API_BENCH_PROBE": "1"}),
    ):
        pytest.fail("the stack must not be handed out when it did not start")

    (settings,) = seen
    assert settings.services == ("postgres", "kafka")
    assert settings.values["READ_API_BENCH_PROBE"] == "1"
    assert settings.values["KAFKA_BROKER_URL"].startswith("127.0.0.1:")
    assert not settings.state_dir.exists()
