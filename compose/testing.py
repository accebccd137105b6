"""An isolated stack per test session: the launcher's own code, a temp state folder, free ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from compose.install import install
from compose.services import BY_NAME
from compose.settings import ALL_SERVICES, Settings, parse_services
from compose.stack import Stack
from contracts.environment import DEFAULTS

# What a test process needs to reach the stack: the README's variables plus the two API URLs.
EXPORTED = (*DEFAULTS, "TODO_EDA_STATE_DIR", "FAUST_DATA_DIR", "DJANGO_SECRET_KEY")


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nothing listens on now (held open together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def isolated_env(state_dir: Path, ports: list[int], partitions: int = 4) -> dict[str, str]:
    """The environment of a stack in `state_dir` listening on `ports` (7 of them)."""
    pg, kafka, controller, connect, mongo, cud, read = ports
    return {
        "TODO_EDA_STATE_DIR": str(state_dir),
        "KAFKA_BROKER_URL": f"127.0.0.1:{kafka}",
        "KAFKA_CONTROLLER_PORT": str(controller),
        "KAFKA_CONNECT_URL": f"http://127.0.0.1:{connect}",
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(pg),
        "MONGO_URL": f"mongodb://127.0.0.1:{mongo}",
        "CUD_API_PORT": str(cud),
        "READ_API_PORT": str(read),
        "TOPIC_PARTITIONS": str(partitions),
    }


class TestStack:
    """A whole stack of its own, started once per test session and always stopped."""

    __test__ = False  # not a pytest test class

    def __init__(self, services: str | Iterable[str] | None = None) -> None:
        selection = (
            services if isinstance(services, str) or services is None else ",".join(services)
        )
        self.state_dir = Path(tempfile.mkdtemp(prefix="todo-eda-test-"))
        self.state_dir.chmod(0o755)  # PostgreSQL runs as another user and must reach its folder
        env = isolated_env(self.state_dir, free_ports(7))
        self.settings = Settings.from_env(env, services=selection or ",".join(ALL_SERVICES))
        self.stack = Stack(self.settings, tied_to_parent=True)
        process_env = self.settings.process_env()
        self.env: dict[str, str] = {k: process_env[k] for k in EXPORTED}
        self.env["CUD_API_URL"] = process_env["CUD_API_URL"]
        self.env["READ_API_URL"] = process_env["READ_API_URL"]

    @property
    def services(self) -> tuple[str, ...]:
        """The services this stack runs (whose code exists), in start order."""
        return tuple(svc.name for svc in self.stack.selected())

    def up(self) -> None:
        """Install what is missing and start every service; ready when this returns."""
        install(self.settings)
        self.stack.up()

    def start(self, name: str) -> None:
        """Start one service (if stopped) and wait until it is ready."""
        self.stack.start(name)

    def stop(self, name: str) -> None:
        """Stop one service gracefully."""
        self.stack.stop(name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Signal one service's main process; supervisord restarts it when it dies."""
        return self.stack.kill(name, sig)

    def wait_ready(self, name: str, timeout: float | None = None) -> None:
        """Wait until one service passes its readiness check."""
        self.stack.wait_ready(name, timeout)

    def restore(self) -> None:
        """Bring every service of this stack back to ready (and the connector to RUNNING)."""
        for name in self.services:
            self.stack.start(name)

    def rows(self) -> Mapping[str, object]:
        return {row.service: row for row in self.stack.status()}

    def close(self) -> None:
        """Stop everything; remove the temp state folder unless TODO_EDA_KEEP_TEST_STATE is set."""
        try:
            self.stack.down()
        finally:
            if not os.environ.get("TODO_EDA_KEEP_TEST_STATE"):
                shutil.rmtree(self.state_dir, ignore_errors=True)


def selection_from(value: str | None) -> tuple[str, ...]:
    """Parse TODO_EDA_TEST_SERVICES (default: all six)."""
    return parse_services(value or "")


__all__ = ["BY_NAME", "TestStack", "free_ports", "isolated_env", "selection_from"]
