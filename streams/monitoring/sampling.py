"""Read one sample of the pipeline: the group's offsets, this worker's counters, each probe.

Every read has a short timeout and runs on the event loop without blocking it; the probes
run together, so one sample costs about its slowest probe.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from faust.types import AppT

from contracts import topics
from streams.connections import Connections
from streams.monitoring import connect, dependencies, probes
from streams.monitoring.cluster import ClusterUnavailableError, ClusterView
from streams.monitoring.dependencies import DependencyWatch
from streams.monitoring.history import (
    Check,
    ConnectorView,
    GroupOffsets,
    PipelineHistory,
    Reading,
    Sample,
    read_counts,
)

PROBE_SECONDS = 2.0


async def group_offsets(
    cluster: ClusterView, group: str
) -> tuple[tuple[GroupOffsets, ...] | None, str | None]:
    """Return the group's committed and end offsets on both topics, or None and why not."""
    try:
        found = await cluster.group_lag(group, topics.PIPELINE)
    except ClusterUnavailableError as exc:
        return None, str(exc)
    return tuple(GroupOffsets(p.topic, p.partition, p.committed, p.end) for p in found), None


async def write_api_check(base_url: str) -> Check:
    """Ask the write API's `/health/`: up when it answers 200, else what it said was down."""
    timeout = aiohttp.ClientTimeout(total=PROBE_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{base_url.rstrip('/')}/health/") as response,
        ):
            body: Any = await response.json(content_type=None)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Check(False, f"write API unreachable ({type(exc).__name__})")
    if status == 200:
        return Check(True, "healthy: PostgreSQL and Kafka up")
    message = body.get("message") if isinstance(body, dict) else None
    return Check(False, str(message or f"health answered {status}"))


async def postgresql_check(connections: Connections) -> Check:
    """Run `SELECT 1` on a connection of the worker's pool."""
    try:
        async with connections.command_store.pool.connection(timeout=PROBE_SECONDS) as conn:
            await asyncio.wait_for(conn.execute("SELECT 1"), PROBE_SECONDS)
    except Exception as exc:  # any failure: the command agent could not write either
        return Check(False, f"PostgreSQL unreachable ({type(exc).__name__})")
    return Check(True, "pool answers")


async def mongodb_check(connections: Connections, watch: DependencyWatch) -> Check:
    """Return MongoDB's state from the worker's probe of it."""
    answering, error = await probes.answers(watch, "mongodb", connections.read_model.ping)
    if answering:
        return Check(True, "MongoDB answers")
    return Check(False, f"MongoDB unreachable ({error})")


def connector_view(status: connect.ConnectStatus) -> ConnectorView:
    """Return the expected connector's state from the last poll of Kafka Connect."""
    name = status.expected[0] if status.expected else next(iter(status.connectors), None)
    found = status.connectors.get(name) if name is not None else None
    if found is None:
        return ConnectorView(status.polled, status.reachable, None)
    running = sum(1 for state in found.tasks.values() if state == "RUNNING")
    return ConnectorView(status.polled, status.reachable, found.state, running, len(found.tasks))


def table_recovered(app: AppT) -> bool:
    """Return whether the worker's table recovery has completed."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    return bool(recovery.completed.is_set() and not recovery.in_recovery)


async def sample_pipeline(
    app: AppT,
    history: PipelineHistory,
    cluster: ClusterView,
    connections: Connections,
    *,
    group: str,
    write_api_url: str,
    watch: DependencyWatch = dependencies.watch,
) -> Sample:
    """Read everything once and record it as the history's next sample."""
    (offsets, kafka_error), write_api, postgresql, mongodb = await asyncio.gather(
        group_offsets(cluster, group),
        write_api_check(write_api_url),
        postgresql_check(connections),
        mongodb_check(connections, watch),
    )
    reading = Reading(
        t=time.time(),
        counts=read_counts(),
        offsets=offsets,
        kafka_error=kafka_error,
        write_api=write_api,
        postgresql=postgresql,
        mongodb=mongodb,
        recovered=table_recovered(app),
        connector=connector_view(connect.connect_status),
    )
    return history.record(reading)
