"""The launcher's settings: the README's names and defaults, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from compose import stack
from compose.services import BY_NAME
from compose.settings import ALL_SERVICES, REPO_ROOT, ConfigError, Settings, parse_services
from contracts import auth


def test_defaults_are_the_readme_contract(tmp_path: Path) -> None:
    settings = Settings.from_env({"TODO_EDA_STATE_DIR": str(tmp_path)})
    assert settings.kafka_port == 9092
    assert settings.controller_port == 9093
    assert settings.connect_port == 8083
    assert settings.postgres_port == 5432
    assert settings.mongo_port == 27017
    assert (settings.cud_api_port, settings.read_api_port) == (8000, 8080)
    assert settings.partitions == 4
    assert settings.values["POSTGRES_USER"] == "todo"
    assert settings.values["FAUST_DATA_DIR"] == str(tmp_path / "faust")
    assert settings.services == ALL_SERVICES


def test_the_state_folder_defaults_to_dot_state_in_the_repo() -> None:
    assert Settings.from_env({}).state_dir == REPO_ROOT / ".state"


def test_ports_come_from_the_urls() -> None:
    settings = Settings.from_env(
        {
            "KAFKA_BROKER_URL": "127.0.0.1:19092",
            "KAFKA_CONNECT_URL": "http://127.0.0.1:18083/",
            "MONGO_URL": "mongodb://127.0.0.1:17017",
        }
    )
    assert (settings.kafka_host, settings.kafka_port) == ("127.0.0.1", 19092)
    assert settings.connect_url == "http://127.0.0.1:18083"
    assert settings.connect_port == 18083
    assert settings.mongo_port == 17017


def test_a_port_used_twice_is_refused_naming_both_variables() -> None:
    with pytest.raises(ConfigError, match="CUD_API_PORT") as err:
        Settings.from_env({"CUD_API_PORT": "5432"})
    assert "POSTGRES_PORT" in str(err.value)


def test_a_non_numeric_port_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="POSTGRES_PORT"):
        Settings.from_env({"POSTGRES_PORT": "five"})


def test_service_selection_keeps_start_order_and_rejects_unknown_names() -> None:
    assert parse_services("streams, postgres") == ("postgres", "streams")
    assert parse_services("") == ALL_SERVICES
    with pytest.raises(ConfigError, match="redis"):
        parse_services("postgres,redis")


def test_the_django_secret_key_is_generated_once_with_mode_600(tmp_path: Path) -> None:
    settings = Settings.from_env({"TODO_EDA_STATE_DIR": str(tmp_path)})
    first = settings.process_env()["DJANGO_SECRET_KEY"]
    assert len(first) >= 50
    assert settings.process_env()["DJANGO_SECRET_KEY"] == first
    key_file = tmp_path / "secrets" / "django_secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_every_process_gets_the_api_urls(tmp_path: Path) -> None:
    env = Settings.from_env(
        {"TODO_EDA_STATE_DIR": str(tmp_path), "CUD_API_PORT": "18000"}
    ).process_env()
    assert env["CUD_API_URL"] == "http://127.0.0.1:18000"
    assert env["READ_API_URL"] == "http://127.0.0.1:8080"


def test_the_metrics_scrape_token_is_generated_once_with_mode_600_for_both_apis(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"TODO_EDA_STATE_DIR": str(tmp_path)})
    env = settings.process_env()
    token_file = Path(env[auth.METRICS_SCRAPE_TOKEN_FILE_VARIABLE])
    assert token_file == tmp_path / "secrets" / "metrics_scrape_token"
    secret = token_file.read_text().strip()
    assert len(secret) >= 40
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    settings.process_env()
    assert token_file.read_text().strip() == secret
    assert auth.ScrapeToken(token_file).accepts(secret)
    # Every supervised process gets the stack's environment, so both APIs read the same file.
    for name in ("cud_api", "streams"):
        program = stack.program(BY_NAME[name], settings)
        assert program.environment[auth.METRICS_SCRAPE_TOKEN_FILE_VARIABLE] == str(token_file)


def test_an_empty_scrape_token_file_is_filled_and_a_rotation_replaces_the_secret(
    tmp_path: Path,
) -> None:
    path = tmp_path / "secrets" / "metrics_scrape_token"
    path.parent.mkdir(mode=0o700)
    path.write_text("")
    auth.ensure_secret_file(path)
    first = path.read_text().strip()
    assert first
    auth.write_secret_file(path)
    assert path.read_text().strip() not in ("", first)
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # nothing staged left behind


def test_the_keys_command_makes_what_it_is_told_and_refuses_half_a_key_pair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from compose.cli import main

    token = tmp_path / "secrets" / "metrics_scrape_token"
    assert main(["keys", "--scrape-token", str(token)]) == 0
    assert token.read_text().strip() and not (tmp_path / "signing").exists()
    assert f"metrics scrape token in {token}" in capsys.readouterr().out
    for half in (["--signing", str(tmp_path / "signing")], []):
        with pytest.raises(SystemExit):
            main(["keys", *half])
    assert not (tmp_path / "signing").exists()
