"""A taken port is reported before anything starts, naming the port and the variable."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose.launcher import PORT_COUNT, free_ports, isolated_env
from compose.readiness import port_in_use
from compose.settings import Settings
from compose.stack import PortTakenError, Stack, port_conflict_message


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_the_message_names_port_service_and_variable() -> None:
    message = port_conflict_message(5432, "POSTGRES_PORT", "postgres")
    assert "5432" in message and "POSTGRES_PORT" in message and "postgres" in message


def test_a_listening_port_is_in_use(listener: int) -> None:
    assert port_in_use(listener)


def test_up_refuses_a_taken_port_before_starting_anything(tmp_path: Path, listener: int) -> None:
    env = isolated_env(tmp_path / "state", free_ports(PORT_COUNT))
    env["MONGO_URL"] = f"mongodb://127.0.0.1:{listener}"
    stack = Stack(Settings.from_env(env))
    with pytest.raises(PortTakenError, match=f"port {listener}.*MONGO_URL"):
        stack.up()
    assert not (tmp_path / "state").exists()  # nothing was started, not even supervisord


def test_free_ports_are_distinct() -> None:
    ports = free_ports(PORT_COUNT)
    assert len(set(ports)) == PORT_COUNT
