"""The pipeline's recent past, one sample per interval: rates, lag, latency, each stage's checks.

Pure: `PipelineHistory.record` takes what was read (the worker's counters, the group's offsets
from Kafka, the probes' outcomes) and keeps a bounded ring of samples. The reading itself, all
I/O, is `streams.monitoring.sampling`.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from prometheus_client import Counter

from contracts import topics
from streams.monitoring import metrics
from streams.monitoring.lag import PartitionLag, StallWatch
from streams.monitoring.quantiles import Buckets, delta, read_buckets

INTERVAL_SECONDS = 5.0
WINDOW_SECONDS = 600.0
SIZE = int(WINDOW_SECONDS / INTERVAL_SECONDS)
# Lag that grew in each of this many windows in a row is lagging, not a passing burst: a
# consumer commits every few seconds, so lag above 0 for one window is normal under load.
GROWTH_WINDOWS = 2

T = TypeVar("T")


class Ring(Generic[T]):
    """The last `size` items, oldest first."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a ring holds at least one item")
        self.size = size
        self._items: deque[T] = deque(maxlen=size)

    def append(self, item: T) -> None:
        """Add an item, dropping the oldest when full."""
        self._items.append(item)

    def last(self) -> T | None:
        """Return the newest item, or None when empty."""
        return self._items[-1] if self._items else None

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Counts:
    """This worker's cumulative counters at one moment."""

    commands: float  # every outcome: applied, rejected, dead-lettered, duplicate
    applied: float
    changes: float  # every outcome: projected, stale, dead-lettered
    projected: float
    latency: Buckets  # write-to-readable
    capture: Buckets  # Debezium's capture delay


def read_counts() -> Counts:
    """Read the worker's counters and histograms from its metrics."""
    return Counts(
        commands=_total(metrics.COMMANDS),
        applied=_total(metrics.COMMANDS, outcome="applied"),
        changes=_total(metrics.CHANGES),
        projected=_total(metrics.CHANGES, outcome="projected"),
        latency=read_buckets(metrics.WRITE_TO_READABLE_SECONDS),
        capture=read_buckets(metrics.CAPTURE_DELAY_SECONDS),
    )


def _total(counter: Counter, **labels: str) -> float:
    """Sum the counter's series whose labels include `labels` (every series when none)."""
    return sum(
        sample.value
        for family in counter.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and labels.items() <= sample.labels.items()
    )


@dataclass(frozen=True)
class LocalWindow:
    """What this worker did in one window: events handled and write-to-readable samples."""

    t: float  # the window's end, seconds since the epoch
    seconds: float
    commands: float
    applied: float
    changes: float
    projected: float
    latency: Buckets
    capture: Buckets


def window_between(before: Counts, after: Counts, t: float, seconds: float) -> LocalWindow:
    """Return the window from one reading to the next (a counter never goes down in-process)."""
    return LocalWindow(
        t=t,
        seconds=seconds,
        commands=max(0.0, after.commands - before.commands),
        applied=max(0.0, after.applied - before.applied),
        changes=max(0.0, after.changes - before.changes),
        projected=max(0.0, after.projected - before.projected),
        latency=delta(before.latency, after.latency),
        capture=delta(before.capture, after.capture),
    )


@dataclass(frozen=True)
class GroupOffsets:
    """One partition of a pipeline topic: its end offset and the group's committed one."""

    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        """Return the records the group has not committed yet."""
        return max(0, self.end - (self.committed or 0))


@dataclass(frozen=True)
class Check:
    """One probe's outcome: whether the dependency answered, and how, in a few words."""

    ok: bool | None  # None: not known (not probed yet)
    detail: str


@dataclass(frozen=True)
class ConnectorView:
    """The Debezium connector as the last poll of Kafka Connect saw it."""

    polled: bool
    reachable: bool
    state: str | None  # RUNNING, FAILED, PAUSED, ..., MISSING, UNREACHABLE
    tasks_running: int = 0
    tasks_total: int = 0


@dataclass(frozen=True)
class Reading:
    """Everything read for one sample."""

    t: float
    counts: Counts
    # Every partition of `todos` and the change topic; None when Kafka did not answer.
    offsets: tuple[GroupOffsets, ...] | None
    kafka_error: str | None
    write_api: Check
    postgresql: Check
    mongodb: Check
    recovered: bool
    connector: ConnectorView


@dataclass(frozen=True)
class TopicFigures:
    """A pipeline topic in one sample: records in per second, the group's lag, its state."""

    partitions: int
    produced_rate: float | None  # None for the first sample (no window yet)
    lag: int
    lagging: bool
    stalled: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One interval of the pipeline, as this worker saw it."""

    t: float
    reading: Reading
    window: LocalWindow | None  # None for the first sample
    topics: Mapping[str, TopicFigures] = field(default_factory=dict)  # empty: Kafka down

    @property
    def total_lag(self) -> int | None:
        """Return the group's lag on both topics, None when Kafka did not answer."""
        return sum(f.lag for f in self.topics.values()) if self.topics else None


class LagWatch:
    """Tells lag that persists (grows window after window, or stalls) from lag that passes."""

    def __init__(self, stall: StallWatch | None = None) -> None:
        self.stall = stall or StallWatch()
        self._recent: dict[str, deque[int]] = {}

    def observe(self, offsets: Iterable[GroupOffsets]) -> dict[str, tuple[bool, tuple[str, ...]]]:
        """Record the offsets; return per topic whether it lags and its stalled partitions."""
        listed = list(offsets)
        stalled = self.stall.observe(
            PartitionLag(o.topic, o.partition, o.committed or 0, o.lag) for o in listed
        )
        found: dict[str, tuple[bool, tuple[str, ...]]] = {}
        for topic in sorted({o.topic for o in listed}):
            lag = sum(o.lag for o in listed if o.topic == topic)
            recent = self._recent.setdefault(topic, deque(maxlen=GROWTH_WINDOWS + 1))
            recent.append(lag)
            values = list(recent)
            growing = (
                lag > 0
                and len(values) == GROWTH_WINDOWS + 1
                and all(b > a for a, b in itertools.pairwise(values))
            )
            mine = tuple(sorted(name for name in stalled if name.startswith(f"{topic}[")))
            found[topic] = (growing or bool(mine), mine)
        return found


class PipelineHistory:
    """The last WINDOW_SECONDS of samples, each built from a Reading and the one before it."""

    def __init__(
        self,
        size: int = SIZE,
        interval_seconds: float = INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_seconds = interval_seconds
        self.samples: Ring[Sample] = Ring(size)
        self.lag_watch = LagWatch(StallWatch(clock=clock))
        self._previous: Reading | None = None

    def record(self, reading: Reading) -> Sample:
        """Add the sample the reading makes, its rates over the time since the previous one."""
        previous = self._previous
        seconds = reading.t - previous.t if previous is not None else None
        window = None
        if previous is not None and seconds is not None and seconds > 0:
            window = window_between(previous.counts, reading.counts, reading.t, seconds)
        figures: dict[str, TopicFigures] = {}
        if reading.offsets is not None:
            states = self.lag_watch.observe(reading.offsets)
            before = _ends(previous.offsets) if previous and previous.offsets else None
            ends = _ends(reading.offsets)
            for topic in topics.PIPELINE:
                mine = [o for o in reading.offsets if o.topic == topic]
                rate = None
                if before is not None and topic in before and seconds:
                    rate = max(0, ends.get(topic, 0) - before[topic]) / seconds
                lagging, stalled = states.get(topic, (False, ()))
                figures[topic] = TopicFigures(
                    partitions=len(mine),
                    produced_rate=rate,
                    lag=sum(o.lag for o in mine),
                    lagging=lagging,
                    stalled=stalled,
                )
        sample = Sample(t=reading.t, reading=reading, window=window, topics=figures)
        self.samples.append(sample)
        self._previous = reading
        return sample

    def latest(self) -> Sample | None:
        """Return the newest sample, or None before the first."""
        return self.samples.last()


def _ends(offsets: Iterable[GroupOffsets]) -> dict[str, int]:
    ends: dict[str, int] = {}
    for o in offsets:
        ends[o.topic] = ends.get(o.topic, 0) + o.end
    return ends


history = PipelineHistory()
