"""Cheap probes of the worker's dependencies, each bounded by PROBE_TIMEOUT_SECONDS.

Each probe is one round trip on the event loop's own sockets (never a blocking call): Kafka an
ApiVersions request to the first broker that answers, PostgreSQL `SELECT 1` on a connection of
its own (the pool's connections stay with the agents), MongoDB a `ping`.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Awaitable, Callable, Iterable

import psycopg

from streams.monitoring.dependencies import UNKNOWN, DependencyWatch

PROBE_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 1.5
# While MongoDB is down it is probed at most every DOWN_PROBE_SECONDS, not every PROBE_SECONDS:
# FerretDB writes two ERROR lines for each request it fails while its PostgreSQL is down, and
# nothing waits on this probe to resume (the CDC agent's writes retry on their own). Kafka's
# probe stays at PROBE_SECONDS: its state gates the consumer's re-reads.
BACKED_OFF_WHILE_DOWN = frozenset({"mongodb"})
DOWN_PROBE_SECONDS = 8.0

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
    latency_s, error = await probe_once(probe, limit_s=limit_s, clock=clock)
    if error is None:
        watch.answered(name, latency_s)
    else:
        watch.failed(name, error)


async def probe_once(
    probe: Probe,
    *,
    limit_s: float = PROBE_TIMEOUT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[float, str | None]:
    """Run one probe within `limit_s` seconds: (its latency, None), or (0, why it failed)."""
    started = clock()
    try:
        await asyncio.wait_for(probe(), limit_s)
    except Exception as exc:  # refused, timed out, an error answer: all say "not answering"
        return 0.0, describe(exc, limit_s)
    return clock() - started, None


async def answers(
    watch: DependencyWatch, name: str, probe: Probe, *, limit_s: float = PROBE_TIMEOUT_SECONDS
) -> tuple[bool, str | None]:
    """Return (answering, error) as the watch last saw it; before its first probe, probe once.

    The pipeline page's samples and /health read the probes' state rather than each sending a
    request of their own, so a client polling /health adds no load on the dependency.
    """
    dep = watch.states[name]
    if dep.state == UNKNOWN:
        _, error = await probe_once(probe, limit_s=limit_s)
        return error is None, error
    if watch.is_down(name):
        return False, dep.last_error
    return True, None


class ProbeSchedule:
    """Which probes are due in a round: all of them, but a backed-off one that is down only
    every DOWN_PROBE_SECONDS."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_run: dict[str, float] = {}

    def due(self, watch: DependencyWatch, names: Iterable[str]) -> list[str]:
        """Return the names to probe now, and note that they ran."""
        now, found = self._clock(), []
        for name in names:
            last = self._last_run.get(name)
            resting = name in BACKED_OFF_WHILE_DOWN and watch.is_down(name)
            if resting and last is not None and now - last < DOWN_PROBE_SECONDS:
                continue
            self._last_run[name] = now
            found.append(name)
        return found


async def run_probes(
    watch: DependencyWatch, probes: dict[str, Probe], schedule: ProbeSchedule
) -> None:
    """Run every due probe at once and record the outcomes."""
    names = schedule.due(watch, probes)
    await asyncio.gather(*(run_probe(watch, name, probes[name]) for name in names))
