"""The broker's listener for a fault proxy: only when asked for, advertised at the proxy's port."""

from __future__ import annotations

from pathlib import Path

import pytest

from compose.kafka import server_properties
from compose.launcher import PORT_COUNT, free_ports, isolated_env
from compose.settings import ConfigError, Settings


def properties(settings: Settings) -> dict[str, str]:
    lines = server_properties(settings).splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_the_default_stack_has_no_proxied_listener() -> None:
    settings = Settings.from_env({})
    props = properties(settings)
    assert settings.kafka_proxied_listener_port is None and settings.kafka_proxied_port is None
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://localhost:9092"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert "KAFKA_PROXIED_LISTENER_PORT" not in {p.variable for p in settings.ports()}


def test_the_proxied_listener_listens_on_its_port_and_advertises_the_proxys() -> None:
    settings = Settings.from_env(
        {"KAFKA_PROXIED_LISTENER_PORT": "19094", "KAFKA_PROXIED_PORT": "19095"}
    )
    props = properties(settings)
    assert props["listeners"].split(",")[-1] == "PROXIED://127.0.0.1:19094"
    assert props["advertised.listeners"].split(",")[-1] == "PROXIED://127.0.0.1:19095"
    assert "PROXIED:PLAINTEXT" in props["listener.security.protocol.map"].split(",")
    # Brokers and Connect keep talking over PLAINTEXT, never through the proxy.
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    ports = {p.variable: p for p in settings.ports()}
    assert ports["KAFKA_PROXIED_LISTENER_PORT"].port == 19094
    assert ports["KAFKA_PROXIED_LISTENER_PORT"].service == "kafka"
    assert "KAFKA_PROXIED_PORT" not in ports  # the proxy listens there, not the stack


def test_every_isolated_stack_gets_a_proxied_listener_on_ports_of_its_own(tmp_path: Path) -> None:
    ports = free_ports(PORT_COUNT)
    settings = Settings.from_env(isolated_env(tmp_path / "state", ports))
    assert settings.kafka_proxied_listener_port == ports[-2]
    assert settings.kafka_proxied_port == ports[-1]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_PROXIED_PORT": "19095"}, "set together"),
        ({"KAFKA_PROXIED_LISTENER_PORT": "x", "KAFKA_PROXIED_PORT": "19095"}, "not a port"),
        ({"KAFKA_PROXIED_LISTENER_PORT": "19094", "KAFKA_PROXIED_PORT": "5432"}, "POSTGRES_PORT"),
        ({"KAFKA_PROXIED_LISTENER_PORT": "9092", "KAFKA_PROXIED_PORT": "19095"}, "used twice"),
    ],
)
def test_a_proxied_listener_that_cannot_work_is_refused_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
