"""THE registry of processes: one entry each. Adding a process to the stack is adding an entry."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compose import accounts, kafka, postgres, readiness
from compose.settings import Settings
from compose.topics import ensure_topics

log = logging.getLogger(__name__)

VENV_BIN = Path(sys.executable).parent


def _nothing(settings: Settings) -> None:
    """No step."""


@dataclass(frozen=True)
class Service:
    """A process of the stack: how to run it, where it listens, when it is ready."""

    name: str
    command: Callable[[Settings], list[str]]
    port: Callable[[Settings], int]
    url: Callable[[Settings], str]
    ready: Callable[[Settings], bool]
    # Before the process starts (folders, config files, initdb) and after it is ready
    # (roles, topics, the connector): both idempotent, both run on every `up`.
    prepare: Callable[[Settings], None] = _nothing
    after_ready: Callable[[Settings], None] = _nothing
    user: Callable[[], str | None] = lambda: None
    stop_signal: str = "TERM"
    stop_wait_secs: int = 20
    ready_timeout: float = 60.0


# Steps ---------------------------------------------------------------------------------------


def migrate(settings: Settings) -> None:
    """Django migrations (they own the schema); the table must exist before the connector."""
    accounts.manage(settings, "migrate", "--noinput")


def postgres_ready_steps(settings: Settings) -> None:
    """Roles, database, schema and the demo user, once PostgreSQL accepts connections."""
    postgres.bootstrap(settings)
    migrate(settings)
    accounts.ensure_demo_user(settings)


def register_connector(settings: Settings) -> None:
    """Register the Debezium connector once the captured table exists."""
    from debezium.register import register

    if not postgres.table_exists(settings):
        raise RuntimeError(
            "public.todos is missing, so the connector cannot capture it: the migrations that"
            f" run when postgres starts create it (see {settings.log_file('migrate')})"
        )
    register(settings.connect_url, timeout=120)


def ferretdb_command(settings: Settings) -> list[str]:
    """FerretDB on the PostgreSQL backend by default, SQLite on request (FERRETDB_BACKEND).

    PostgreSQL because only that backend pushes an integer `_id` equality down
    (docs/decisions/ferretdb-backend-and-indexes.md).
    """
    common = [
        str(settings.ferretdb_bin),
        f"--state-dir={settings.state_dir / 'ferretdb'}",
        f"--listen-addr=127.0.0.1:{settings.mongo_port}",
        "--debug-addr=-",  # no metrics listener: two stacks must not collide on :8088
        "--telemetry=disable",
        "--log-level=warn",
    ]
    if settings.values["FERRETDB_BACKEND"] == "sqlite":
        data = settings.state_dir / "ferretdb" / "data"
        return [*common, "--handler=sqlite", f"--sqlite-url=file:{data}/"]
    return [*common, "--handler=postgresql", f"--postgresql-url={postgres.ferretdb_url(settings)}"]


def prepare_ferretdb(settings: Settings) -> None:
    """Its state folder, and its backend's storage: a SQLite folder or a PostgreSQL database."""
    (settings.state_dir / "ferretdb" / "data").mkdir(parents=True, exist_ok=True)
    if settings.values["FERRETDB_BACKEND"] != "sqlite":
        postgres.ensure_ferretdb_database(settings)


def kafka_ready(settings: Settings) -> bool:
    return readiness.kafka_metadata(settings.values["KAFKA_BROKER_URL"])


# The registry, in start order ------------------------------------------------------------------

SERVICES: tuple[Service, ...] = (
    Service(
        name="postgres",
        command=postgres.command,
        port=lambda s: s.postgres_port,
        url=lambda s: (
            f"postgresql://{s.values['POSTGRES_HOST']}:{s.postgres_port}/{s.values['POSTGRES_DB']}"
        ),
        ready=lambda s: readiness.postgres_accepts(postgres.superuser_conninfo(s)),
        prepare=postgres.prepare,
        after_ready=postgres_ready_steps,
        user=postgres.system_user,
        stop_signal="INT",  # PostgreSQL's "fast" shutdown
        # A fast shutdown waits for Debezium's walsender; while Kafka is down its task reads
        # nothing, so PostgreSQL ends that connection only after wal_sender_timeout (60 s).
        stop_wait_secs=75,
    ),
    Service(
        name="kafka",
        command=kafka.kafka_command,
        port=lambda s: s.kafka_port,
        url=lambda s: s.values["KAFKA_BROKER_URL"],
        ready=kafka_ready,
        prepare=kafka.prepare_kafka,
        after_ready=ensure_topics,
        stop_wait_secs=30,
        ready_timeout=90,
    ),
    Service(
        name="connect",
        command=kafka.connect_command,
        port=lambda s: s.connect_port,
        url=lambda s: s.connect_url,
        ready=lambda s: readiness.http_ok(f"{s.connect_url}/connectors"),
        prepare=kafka.prepare_connect,
        after_ready=register_connector,
        stop_wait_secs=30,
        ready_timeout=120,
    ),
    Service(
        name="ferretdb",
        command=ferretdb_command,
        port=lambda s: s.mongo_port,
        url=lambda s: s.values["MONGO_URL"],
        ready=lambda s: readiness.mongo_ping(s.values["MONGO_URL"]),
        prepare=prepare_ferretdb,
    ),
    Service(
        name="cud_api",
        command=lambda s: [
            str(VENV_BIN / "gunicorn"),
            "cud_api.config.wsgi:application",
            "--bind",
            f"127.0.0.1:{s.cud_api_port}",
            "--worker-class",
            "gthread",
            "--workers",
            "3",
            "--threads",
            "8",
            # No access log: one line per request cost more CPU than the request's own Django
            # work (docs/decisions/web-paths.md); errors still reach the log.
            "--graceful-timeout",
            "15",
            # gunicorn's runtime control socket defaults to one path per user, which every
            # stack's gunicorn would share; nothing here uses it.
            "--no-control-socket",
            # Metrics summed over the workers (docs/decisions/metrics.md): the multiprocess
            # folder for gunicorn only (not the worker), emptied by the config's on_starting.
            "--env",
            f"PROMETHEUS_MULTIPROC_DIR={s.cud_api_metrics_dir}",
            "--config",
            "python:cud_api.config.gunicorn",
        ],
        port=lambda s: s.cud_api_port,
        url=lambda s: f"http://127.0.0.1:{s.cud_api_port}",
        ready=lambda s: readiness.http_ok(f"http://127.0.0.1:{s.cud_api_port}/health/"),
    ),
    Service(
        name="streams",
        command=lambda s: [
            sys.executable,  # `-m` puts the repo (the working directory) on sys.path
            "-m",
            "faust",
            "-A",
            "streams.worker",
            "worker",
            "--web-port",
            str(s.read_api_port),
            "--web-host",
            "127.0.0.1",
            "-l",
            "info",
        ],
        port=lambda s: s.read_api_port,
        url=lambda s: f"http://127.0.0.1:{s.read_api_port}",
        ready=lambda s: readiness.http_ok(f"http://127.0.0.1:{s.read_api_port}/health"),
        prepare=lambda s: Path(s.values["FAUST_DATA_DIR"]).mkdir(parents=True, exist_ok=True),
        stop_wait_secs=30,
        ready_timeout=120,
    ),
)

BY_NAME = {service.name: service for service in SERVICES}
