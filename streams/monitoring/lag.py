"""Consumer lag of the pipeline's topics, and partitions that lag without moving."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from faust.exceptions import ConsumerNotStarted

from contracts import topics

# A partition that lags and whose position has not moved for this long is stalled.
STALL_SECONDS = 30.0


@dataclass(frozen=True)
class PartitionLag:
    """One assigned partition: the next offset to commit (its position) and the lag behind it."""

    topic: str
    partition: int
    position: int
    lag: int

    @property
    def name(self) -> str:
        """Return `topic[partition]`, the form /health names partitions by."""
        return f"{self.topic}[{self.partition}]"


def partition_lags(consumer: Any) -> list[PartitionLag]:
    """Return every assigned partition whose high watermark is known (none before start)."""
    # Faust has no public accessor for its last committed offsets; this mapping is what
    # its own commit logic reads (the offset of the last committed record).
    committed = getattr(consumer, "_committed_offset", {})
    try:
        assignment = consumer.assignment()
    except ConsumerNotStarted:  # a scrape before the worker's consumer has started
        return []
    found: list[PartitionLag] = []
    for tp in sorted(assignment):
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # no fetch yet for this partition: no figure to give
            highwater = None
        if highwater is None:
            continue
        done = committed.get(tp)
        position = done + 1 if done is not None else 0
        found.append(PartitionLag(tp.topic, tp.partition, position, max(0, highwater - position)))
    return found


def split_pipeline(lags: Iterable[PartitionLag]) -> tuple[list[PartitionLag], list[PartitionLag]]:
    """Split into (partitions of `todos` and the change topic, every other one).

    The others are the table's changelog (and the users' topic): the worker reads a
    changelog only to recover its table, so its committed offset says nothing about lag.
    """
    pipeline: list[PartitionLag] = []
    others: list[PartitionLag] = []
    for lag in lags:
        (pipeline if lag.topic in topics.PIPELINE else others).append(lag)
    return pipeline, others


@dataclass
class _Seen:
    position: int
    since: float


class StallWatch:
    """Remembers since when each partition's position has not moved while it lagged."""

    def __init__(
        self, stall_seconds: float = STALL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stall_seconds = stall_seconds
        self.clock = clock
        self._seen: dict[str, _Seen] = {}

    def observe(self, lags: Iterable[PartitionLag]) -> dict[str, float]:
        """Record the positions; return the stalled partitions with how long each has stood."""
        now = self.clock()
        stalled: dict[str, float] = {}
        current: dict[str, _Seen] = {}
        for lag in lags:
            seen = self._seen.get(lag.name)
            if seen is None or seen.position != lag.position or lag.lag == 0:
                seen = _Seen(lag.position, now)
            current[lag.name] = seen
            standing = now - seen.since
            if lag.lag > 0 and standing >= self.stall_seconds:
                stalled[lag.name] = standing
        # Partitions no longer assigned are forgotten: if one comes back it starts afresh.
        self._seen = current
        return stalled


def as_report(lags: Iterable[PartitionLag]) -> dict[str, int]:
    """Return `{"topic[partition]": lag}`, as /health shows it."""
    return {lag.name: lag.lag for lag in lags}


stall_watch = StallWatch()
