"""Cheap probes of the worker's dependencies, each bounded by PROBE_TIMEOUT_SECONDS.

Each probe is one round trip on the event loop's own sockets (never a blocking call): Kafka an
ApiVersions request to the first broker that answers, PostgreSQL `SELECT 1` on a connection of
its own (the pool's connections stay with the agents), MongoDB a `ping`.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Awaitable, Callable

import psycopg

from streams.monitoring.dependencies import DependencyWatch

PROBE_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 1.5

Probe = Callable[[], Awaitable[None]]

# ApiVersions (key 18) version 0: every broker version answers it, and its body is empty.
_API_VERSIONS_KEY, _CORRELATION_ID, _CLIENT_ID = 18, 1, b"todo-eda-probe"


def api_versions_request() -> bytes:
    """Return a Kafka ApiVersions v0 request, size-prefixed as on the wire."""
    header = struct.pack(">hhih", _API_VERSIONS_KEY, 0, _CORRELATION_ID, len(_CLIENT_ID))
    body = header + _CLIENT_ID
    return struct.pack(">i", len(body)) + body


def _brokers(bootstrap_servers: str) -> list[tuple[str, int]]:
    found = []
    for entry in bootstrap_servers.split(","):
        host, _, port = entry.strip().removeprefix("kafka://").rpartition(":")
        found.append((host or "localhost", int(port) if port.isdigit() else 9092))
    return found


async def ask_kafka(host: str, port: int) -> None:
    """Send ApiVersions to one broker and read its answer's header; raise unless it matches."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(api_versions_request())
        await writer.drain()
        size, correlation = struct.unpack(">ii", await reader.readexactly(8))
        if correlation != _CORRELATION_ID or size < 4:
            raise ConnectionError(f"unexpected answer from Kafka at {host}:{port}")
    finally:
        writer.close()


def kafka_probe(bootstrap_servers: str) -> Probe:
    """Return a probe that passes when any bootstrap broker answers ApiVersions."""
    brokers = _brokers(bootstrap_servers)

    async def probe() -> None:
        last: Exception | None = None
        for host, port in brokers:
            try:
                await ask_kafka(host, port)
                return
            except (OSError, asyncio.IncompleteReadError) as exc:
                last = exc
        assert last is not None
        raise last

    return probe


def postgres_probe(conninfo: str) -> Probe:
    """Return a probe that connects to PostgreSQL and runs `SELECT 1`."""

    async def probe() -> None:
        conn = await psycopg.AsyncConnection.connect(
            conninfo, autocommit=True, connect_timeout=int(PROBE_TIMEOUT_SECONDS) + 1
        )
        try:
            await conn.execute("SELECT 1")
        finally:
            await conn.close()

    return probe


def describe(exc: BaseException, limit_s: float = PROBE_TIMEOUT_SECONDS) -> str:
    """Return an error in a few words: its type and the first line of its text."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {limit_s:g} s"
    text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def run_probe(
    watch: DependencyWatch,
    name: str,
    probe: Probe,
    *,
    limit_s: float = PROBE_TIMEOUT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run one probe within `limit_s` seconds and record its outcome in the watch."""
    started = clock()
    try:
        await asyncio.wait_for(probe(), limit_s)
    except Exception as exc:  # refused, timed out, an error answer: all say "not answering"
        watch.failed(name, describe(exc, limit_s))
    else:
        watch.answered(name, clock() - started)


async def run_probes(watch: DependencyWatch, probes: dict[str, Probe]) -> None:
    """Run every probe at once and record the outcomes."""
    await asyncio.gather(*(run_probe(watch, name, probe) for name, probe in probes.items()))
