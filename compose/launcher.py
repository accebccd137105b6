"""The launcher's public API: start an isolated stack, or find the running one, by typed addresses.

    with isolated_stack() as stack:          # temp state folder, free ports, always stopped
        requests.get(stack.addresses.write_url + "/health/")

The test fixtures and the benchmark use these; nothing else reaches into compose's internals.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import make_conninfo

from compose.install import install
from compose.pipeline_status import PipelineStatus
from compose.services import BY_NAME
from compose.settings import STACK_VARIABLES, Settings
from compose.stack import Row, Stack, program
from compose.supervisor import Program
from contracts.environment import DEFAULTS

# What a client of the stack needs: the shared variables, the per-stack ones, the two API URLs.
EXPORTED = (*DEFAULTS, *STACK_VARIABLES, "CUD_API_URL", "READ_API_URL")
# postgres, kafka, kafka's controller, connect, ferretdb, cud_api, streams, and the broker's
# listener for a fault proxy with the port that proxy listens on (the fault tests start it).
PORT_COUNT = 9


@dataclass(frozen=True)
class PostgresAddress:
    """How the application reaches the project's database."""

    host: str
    port: int
    db: str
    user: str
    password: str = field(repr=False)

    @property
    def conninfo(self) -> str:
        """A libpq connection string."""
        return make_conninfo(
            host=self.host, port=self.port, dbname=self.db, user=self.user, password=self.password
        )


@dataclass(frozen=True)
class StackAddresses:
    """Where each service of a stack answers, and the environment its processes share."""

    kafka: str
    connect_url: str
    postgres: PostgresAddress
    mongo_url: str
    mongo_db: str
    write_url: str
    read_url: str
    state_dir: Path
    partitions: int
    # Each service's main listening port (how the benchmark finds its processes).
    ports: Mapping[str, int]
    env: Mapping[str, str] = field(repr=False)


def addresses(settings: Settings) -> StackAddresses:
    """The addresses of the stack `settings` describes."""
    process_env = settings.process_env()
    v = settings.values
    ports: dict[str, int] = {}
    for port in settings.ports():
        ports.setdefault(port.service, port.port)  # kafka's first port is the broker's
    return StackAddresses(
        kafka=v["KAFKA_BROKER_URL"],
        connect_url=settings.connect_url,
        postgres=PostgresAddress(
            host=v["POSTGRES_HOST"],
            port=settings.postgres_port,
            db=v["POSTGRES_DB"],
            user=v["POSTGRES_USER"],
            password=v["POSTGRES_PASSWORD"],
        ),
        mongo_url=v["MONGO_URL"],
        mongo_db=v["MONGO_DB"],
        write_url=process_env["CUD_API_URL"],
        read_url=process_env["READ_API_URL"],
        state_dir=settings.state_dir,
        partitions=settings.partitions,
        ports=ports,
        env={name: process_env[name] for name in EXPORTED},
    )


def running_stack(env: Mapping[str, str] | None = None) -> StackAddresses:
    """The addresses of the stack `make up` runs, read from `env` (default os.environ)."""
    return addresses(Settings.from_env(env))


def service_program(
    stack: StackAddresses, name: str, overrides: Mapping[str, str] | None = None
) -> Program:
    """Service `name` of `stack` as the launcher runs it, with `overrides` to its environment.

    For a second copy of a service beside the stack (the benchmark's replay worker): its
    command line follows the overridden settings (e.g. READ_API_PORT moves its web port).
    """
    overrides = dict(overrides or {})
    settings = Settings.from_env({**stack.env, **overrides}, services=name)
    base = program(BY_NAME[name], settings)
    return Program(
        name=base.name,
        command=base.command,
        environment={**base.environment, **overrides},
        directory=base.directory,
        log_file=base.log_file,
        user=base.user,
        stop_signal=base.stop_signal,
        stop_wait_secs=base.stop_wait_secs,
    )


def spawn(program: Program, log_path: Path) -> subprocess.Popen[bytes]:
    """Start a copy of a service beside the stack (not under supervisord), logging to `log_path`."""
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            program.command,
            env={**os.environ, **program.environment},
            cwd=program.directory,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def stop_spawned(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Stop a copy `spawn` started: SIGTERM, then SIGKILL if it outlives `timeout`."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
    """The environment of a stack in `state_dir` listening on `ports` (PORT_COUNT of them)."""
    pg, kafka, controller, connect, mongo, cud, read, proxied_listener, proxied = ports
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
        "KAFKA_PROXIED_LISTENER_PORT": str(proxied_listener),
        "KAFKA_PROXIED_PORT": str(proxied),
    }


class IsolatedStack:
    """A running stack of its own: its addresses, and the operations fault tests need."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stack = Stack(settings, tied_to_parent=True)
        self.addresses = addresses(settings)

    @property
    def env(self) -> Mapping[str, str]:
        """The variables a client of this stack needs (`StackAddresses.env`)."""
        return self.addresses.env

    @property
    def state_dir(self) -> Path:
        """The stack's temp state folder (data and `logs/<service>.log`)."""
        return self.settings.state_dir

    @property
    def services(self) -> tuple[str, ...]:
        """The services this stack runs, in start order."""
        return self.settings.services

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

    def status(self) -> list[Row]:
        """Each service's state, readiness, pid and port."""
        return self.stack.status()

    def pipeline_status(self) -> PipelineStatus:
        """Each consumer group's lag and the connectors' states, as `make status` prints them."""
        return self.stack.pipeline()


@contextmanager
def isolated_stack(
    services: str | Iterable[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    partitions: int = 4,
    keep_state: bool | None = None,
) -> Iterator[IsolatedStack]:
    """Start a whole stack in a temp state folder on free ports; stop it whatever happens.

    `services` picks some (comma list or names; default all), `env` sets more variables
    (e.g. READ_API_BENCH_PROBE=1). The folder is removed afterwards unless `keep_state` (default:
    TODO_EDA_KEEP_TEST_STATE is set).
    """
    selection = services if isinstance(services, str) or services is None else ",".join(services)
    state_dir = Path(tempfile.mkdtemp(prefix="todo-eda-test-"))
    state_dir.chmod(0o755)  # PostgreSQL runs as another user and must reach its folder
    if keep_state is None:
        keep_state = bool(os.environ.get("TODO_EDA_KEEP_TEST_STATE"))
    stack: IsolatedStack | None = None
    try:
        values = {**isolated_env(state_dir, free_ports(PORT_COUNT), partitions), **(env or {})}
        settings = Settings.from_env(values, services=selection or "")
        stack = IsolatedStack(settings)
        install(settings)
        stack.stack.up()
        yield stack
    finally:
        try:
            if stack is not None:
                stack.stack.down()
        finally:
            if not keep_state:
                shutil.rmtree(state_dir, ignore_errors=True)
