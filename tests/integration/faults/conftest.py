"""A fault proxy (Toxiproxy) between a worker and the stack's PostgreSQL, FerretDB and Kafka.

The session's stack is started with a second Kafka listener for it (compose.launcher gives
every isolated stack one, advertised at KAFKA_PROXIED_PORT). `toxiproxy` builds the server on
first use, starts it and makes one proxy per dependency; `proxied_worker` stops the stack's
worker and runs a copy whose clients all go through the proxies (the test is disruptive, so the
stack's worker is started again after it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from compose.install import install_toxiproxy
from compose.launcher import IsolatedStack, free_ports, service_program, spawn, stop_spawned
from tests.support.polling import wait_for
from tests.support.toxiproxy import Proxy, Toxiproxy, toxiproxy_server

WORKER_START_TIMEOUT = 180.0


@dataclass(frozen=True)
class Proxies:
    """The server and its three proxies."""

    server: Toxiproxy
    postgres: Proxy
    mongo: Proxy
    kafka: Proxy

    def all(self) -> tuple[Proxy, ...]:
        """Every proxy."""
        return (self.postgres, self.mongo, self.kafka)


@dataclass
class ProxiedWorker:
    """The worker copy running through the proxies, and its log."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """Its log so far."""
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def toxiproxy(stack: IsolatedStack) -> Iterator[Proxies]:
    """Toxiproxy's server on a free port with a proxy to PostgreSQL, FerretDB and Kafka."""
    settings = stack.settings
    listener, advertised = settings.kafka_proxied_listener_port, settings.kafka_proxied_port
    if listener is None or advertised is None:
        pytest.skip("the stack has no Kafka listener for a fault proxy")
    binary = install_toxiproxy(settings)
    api_port, pg_port, mongo_port = free_ports(3)
    with toxiproxy_server(binary, api_port, stack.state_dir / "logs" / "toxiproxy.log") as server:
        yield Proxies(
            server=server,
            postgres=server.create(
                "postgres", f"127.0.0.1:{pg_port}", f"127.0.0.1:{settings.postgres_port}"
            ),
            mongo=server.create(
                "mongo", f"127.0.0.1:{mongo_port}", f"127.0.0.1:{settings.mongo_port}"
            ),
            # Listens where the broker's PROXIED listener says it is: what the client is told.
            kafka=server.create("kafka", f"127.0.0.1:{advertised}", f"127.0.0.1:{listener}"),
        )


def _worker_answers(read_url: str) -> bool:
    return requests.get(f"{read_url}/health", timeout=5).status_code == 200


@pytest.fixture
def proxied_worker(stack: IsolatedStack, toxiproxy: Proxies) -> Iterator[ProxiedWorker]:
    """The stack's worker replaced by a copy reaching every dependency through the proxies."""
    toxiproxy.server.reset()
    stack.stop("streams")
    overrides = {
        "KAFKA_BROKER_URL": toxiproxy.kafka.listen,
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(toxiproxy.postgres.port),
        "MONGO_URL": f"mongodb://{toxiproxy.mongo.listen}",
    }
    program = service_program(stack.addresses, "streams", overrides)
    log_path = stack.state_dir / "logs" / "streams-proxied.log"
    log_path.write_bytes(b"")
    process = spawn(program, log_path)
    try:
        wait_for(
            lambda: process.poll() is None and _worker_answers(stack.addresses.read_url),
            timeout=WORKER_START_TIMEOUT,
            interval=1.0,
            message="the proxied worker answers",
        )
        yield ProxiedWorker(process, log_path)
    finally:
        toxiproxy.server.reset()
        stop_spawned(process, timeout=60)
