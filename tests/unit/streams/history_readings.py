"""Readings for the pipeline history's tests, every field settable, healthy by default."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from contracts import topics
from streams.monitoring.history import Check, ConnectorView, Counts, GroupOffsets, Reading
from streams.monitoring.quantiles import Buckets

BOUNDS = (0.1, 0.5, 1.0, math.inf)


def buckets(*counts: float) -> Buckets:
    """Cumulative counts over BOUNDS."""
    return Buckets(BOUNDS, tuple(counts))


def counts(
    commands: float = 0, applied: float = 0, changes: float = 0, projected: float = 0, **kw: Any
) -> Counts:
    """The worker's cumulative counters."""
    return Counts(
        commands=commands,
        applied=applied,
        changes=changes,
        projected=projected,
        latency=kw.get("latency", buckets(0, 0, 0, 0)),
        capture=kw.get("capture", buckets(0, 0, 0, 0)),
    )


def offsets(
    commands_end: tuple[int, ...] = (0, 0), changes_end: tuple[int, ...] = (0, 0), lag: int = 0
) -> tuple[GroupOffsets, ...]:
    """Both topics' partitions; the first partition of each lags by `lag`."""
    found = []
    for topic, ends in ((topics.COMMANDS, commands_end), (topics.CHANGES, changes_end)):
        for partition, end in enumerate(ends):
            behind = lag if partition == 0 else 0
            found.append(GroupOffsets(topic, partition, end - behind, end))
    return tuple(found)


HEALTHY = Reading(
    t=1000.0,
    counts=counts(),
    offsets=offsets(),
    kafka_error=None,
    write_api=Check(True, "healthy: PostgreSQL and Kafka up"),
    postgresql=Check(True, "pool answers"),
    mongodb=Check(True, "MongoDB answers"),
    recovered=True,
    connector=ConnectorView(True, True, "RUNNING", 1, 1),
)


def reading(**changes: Any) -> Reading:
    """A healthy reading with `changes` applied."""
    return replace(HEALTHY, **changes)
