"""The JSON of `GET /pipeline/state`, built from the worker's history and its peers' windows.

Pure: the view gathers the inputs (this worker's samples, the other workers' answers to
`?local=1`) and these functions decide each stage's state and figures. The format is
documented in docs/decisions/pipeline-page.md.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts import topics
from streams.monitoring.history import Check, LocalWindow, PipelineHistory, Sample, TopicFigures
from streams.monitoring.quantiles import Buckets, add, quantile

OK, LAGGING, FAILED, UNKNOWN = "ok", "lagging", "failed", "unknown"
# A worker's newest window older than this many intervals no longer counts toward the rates.
FRESH_INTERVALS = 3


@dataclass(frozen=True)
class Windows:
    """One worker's recent windows (its own events and latency samples), as `?local=1` gives."""

    worker: str
    windows: tuple[LocalWindow, ...]


@dataclass(frozen=True)
class Peer:
    """Another worker of the group, and what it answered (None when it did not)."""

    url: str
    windows: Windows | None
    error: str | None = None


@dataclass(frozen=True)
class Rates:
    """Events per second over the newest window, summed over the workers that answered."""

    commands: float | None = None
    applied: float | None = None
    changes: float | None = None
    projected: float | None = None
    capture: Buckets | None = None


@dataclass(frozen=True)
class Stage:
    """One box of the page."""

    id: str
    name: str
    state: str
    rate: float | None
    lag: int | None
    detail: str

    def as_json(self) -> dict[str, Any]:
        """Return the stage's JSON object."""
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "rate": None if self.rate is None else round(self.rate, 2),
            "lag": self.lag,
            "detail": self.detail,
        }


# Local windows on the wire ---------------------------------------------------------------


def _bounds_json(buckets: Buckets) -> list[float]:
    # JSON has no infinity: the +Inf bound is implied as the last count's.
    return [b for b in buckets.bounds if not math.isinf(b)]


def windows_json(worker: str, history: PipelineHistory) -> dict[str, Any]:
    """Return this worker's windows as `GET /pipeline/state?local=1` answers them."""
    windows = [s.window for s in history.samples if s.window is not None]
    latest = history.latest()
    first = windows[0] if windows else None
    return {
        "worker": worker,
        "sampled_at": latest.t if latest else None,
        "interval_seconds": history.interval_seconds,
        "latency_bounds": _bounds_json(first.latency) if first else [],
        "capture_bounds": _bounds_json(first.capture) if first else [],
        "windows": {
            "t": [w.t for w in windows],
            "seconds": [w.seconds for w in windows],
            "commands": [w.commands for w in windows],
            "applied": [w.applied for w in windows],
            "changes": [w.changes for w in windows],
            "projected": [w.projected for w in windows],
            "latency": [list(w.latency.counts) for w in windows],
            "capture": [list(w.capture.counts) for w in windows],
        },
    }


class MalformedWindowsError(ValueError):
    """A worker's `?local=1` answer is not in the expected shape."""


def parse_windows(body: object) -> Windows:
    """Parse another worker's `?local=1` answer."""
    try:
        assert isinstance(body, dict)
        latency_bounds = (*map(float, body["latency_bounds"]), math.inf)
        capture_bounds = (*map(float, body["capture_bounds"]), math.inf)
        w = body["windows"]
        columns = [
            w[name] for name in ("t", "seconds", "commands", "applied", "changes", "projected")
        ]
        latency, capture = w["latency"], w["capture"]
        count = len(columns[0])
        if any(len(c) != count for c in (*columns, latency, capture)):
            raise MalformedWindowsError("columns of different lengths")
        found = []
        for i in range(count):
            lat = tuple(map(float, latency[i]))
            cap = tuple(map(float, capture[i]))
            if len(lat) != len(latency_bounds) or len(cap) != len(capture_bounds):
                raise MalformedWindowsError("bucket counts do not match the bounds")
            t, seconds, commands, applied, changes, projected = (float(c[i]) for c in columns)
            found.append(
                LocalWindow(
                    t=t,
                    seconds=seconds,
                    commands=commands,
                    applied=applied,
                    changes=changes,
                    projected=projected,
                    latency=Buckets(latency_bounds, lat),
                    capture=Buckets(capture_bounds, cap),
                )
            )
        return Windows(str(body["worker"]), tuple(found))
    except (AssertionError, KeyError, TypeError, ValueError) as exc:
        raise MalformedWindowsError(f"not a worker's windows: {exc!r}") from exc


# Figures over the workers -----------------------------------------------------------------


def current_rates(windows: Sequence[Windows], now: float, interval: float) -> Rates:
    """Sum each worker's newest window, if fresh, into events per second."""
    newest = [
        w.windows[-1]
        for w in windows
        if w.windows and w.windows[-1].t >= now - FRESH_INTERVALS * interval
    ]
    if not newest:
        return Rates()
    capture: Buckets | None = None
    for window in newest:
        capture = window.capture if capture is None else _add_or_keep(capture, window.capture)
    return Rates(
        commands=sum(w.commands / w.seconds for w in newest),
        applied=sum(w.applied / w.seconds for w in newest),
        changes=sum(w.changes / w.seconds for w in newest),
        projected=sum(w.projected / w.seconds for w in newest),
        capture=capture,
    )


def _add_or_keep(first: Buckets, second: Buckets) -> Buckets:
    # Workers of different versions may bucket differently: keep the first rather than fail.
    try:
        return add(first, second)
    except ValueError:
        return first


def latency_series(
    samples: Sequence[Sample], peers: Sequence[Windows]
) -> tuple[list[float | None], list[float | None]]:
    """Return p50 and p99 of write-to-readable per sample, over this worker's and its peers'.

    A peer's window is counted in the first of this worker's samples ending at or after it
    (the newest one for a window after every sample), so each observation counts once.
    """
    ends = [s.t for s in samples]
    merged: list[Buckets | None] = [s.window.latency if s.window else None for s in samples]
    for peer in peers:
        for window in peer.windows:
            if not ends:
                break
            index = min(bisect.bisect_left(ends, window.t), len(ends) - 1)
            current = merged[index]
            merged[index] = (
                window.latency if current is None else _add_or_keep(current, window.latency)
            )
    p50 = [None if b is None else _rounded(quantile(0.5, b)) for b in merged]
    p99 = [None if b is None else _rounded(quantile(0.99, b)) for b in merged]
    return p50, p99


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# Stages ---------------------------------------------------------------------------------


def _checked(stage_id: str, name: str, check: Check, rate: float | None) -> Stage:
    state = UNKNOWN if check.ok is None else OK if check.ok else FAILED
    return Stage(stage_id, name, state, rate, None, check.detail)


def _topic(stage_id: str, sample: Sample, topic: str) -> Stage:
    figures = sample.topics.get(topic)
    if figures is None:
        return Stage(stage_id, topic, FAILED, None, None, _kafka_down(sample))
    return Stage(
        stage_id,
        topic,
        OK,
        figures.produced_rate,
        None,
        f"{figures.partitions} partitions, {_per_second(figures.produced_rate)} in",
    )


def _consumer(stage_id: str, name: str, sample: Sample, topic: str, rate: float | None) -> Stage:
    figures: TopicFigures | None = sample.topics.get(topic)
    if figures is None:
        return Stage(stage_id, name, FAILED, rate, None, _kafka_down(sample))
    detail = f"lag {figures.lag} on {figures.partitions} partitions"
    if figures.stalled:
        detail += f", not moving: {', '.join(figures.stalled)}"
    elif figures.lagging:
        detail += ", growing"
    return Stage(stage_id, name, LAGGING if figures.lagging else OK, rate, figures.lag, detail)


def _kafka_down(sample: Sample) -> str:
    return f"Kafka unreachable ({sample.reading.kafka_error or 'no answer'})"


def _per_second(rate: float | None) -> str:
    return "no rate yet" if rate is None else f"{rate:.1f}/s"


def _debezium(sample: Sample, rate: float | None, capture: Buckets | None) -> Stage:
    c = sample.reading.connector
    tasks = f"{c.tasks_running}/{c.tasks_total} tasks"
    if not c.polled:
        state, detail = UNKNOWN, "Kafka Connect not polled yet"
    elif not c.reachable:
        state, detail = FAILED, "Kafka Connect unreachable"
    elif c.state is None or c.state == "MISSING":
        state, detail = FAILED, "connector not registered"
    elif c.state == "RUNNING" and c.tasks_total > 0 and c.tasks_running == c.tasks_total:
        state, detail = OK, f"connector RUNNING, {tasks}"
    elif c.state in ("RUNNING", "FAILED"):
        state, detail = FAILED, f"connector {c.state}, {tasks}"
    else:  # PAUSED, UNASSIGNED, RESTARTING: not capturing for now
        state, detail = LAGGING, f"connector {c.state}, {tasks}"
    delay = quantile(0.99, capture) if capture is not None else None
    if delay is not None:
        detail += f"; capture delay p99 {delay:.3f} s"
    return Stage("debezium", "Debezium", state, rate, None, detail)


def _read_model(sample: Sample, rate: float | None) -> Stage:
    reading = sample.reading
    if reading.mongodb.ok is False:
        return Stage("read_model", "table + MongoDB", FAILED, rate, None, reading.mongodb.detail)
    if not reading.recovered:
        return Stage("read_model", "table + MongoDB", LAGGING, rate, None, "table recovering")
    state = UNKNOWN if reading.mongodb.ok is None else OK
    return Stage(
        "read_model",
        "table + MongoDB",
        state,
        rate,
        None,
        f"table recovered, {reading.mongodb.detail}",
    )


def _read_api(peers: Sequence[Peer]) -> Stage:
    silent = [p.url for p in peers if p.windows is None]
    total = len(peers) + 1
    if silent:
        detail = f"{len(silent)} of {total} workers not answering: {', '.join(silent)}"
        return Stage("read_api", "read API", FAILED, None, None, detail)
    return Stage("read_api", "read API", OK, None, None, f"{total} worker(s) answering")


STAGE_ORDER = (
    ("write_api", "write API"),
    ("todos", topics.COMMANDS),
    ("command_agent", "command agent"),
    ("postgresql", "PostgreSQL"),
    ("debezium", "Debezium"),
    ("changes", topics.CHANGES),
    ("cdc_agent", "CDC agent"),
    ("read_model", "table + MongoDB"),
    ("read_api", "read API"),
)


def stages(sample: Sample | None, rates: Rates, peers: Sequence[Peer]) -> list[Stage]:
    """Return the nine stages in the order data flows through them."""
    if sample is None:
        return [
            Stage(stage_id, name, UNKNOWN, None, None, "no sample yet")
            for stage_id, name in STAGE_ORDER
        ]
    reading = sample.reading
    commands = sample.topics.get(topics.COMMANDS)
    changes = sample.topics.get(topics.CHANGES)
    return [
        _checked(
            "write_api",
            "write API",
            reading.write_api,
            commands.produced_rate if commands else None,
        ),
        _topic("todos", sample, topics.COMMANDS),
        _consumer("command_agent", "command agent", sample, topics.COMMANDS, rates.commands),
        _checked("postgresql", "PostgreSQL", reading.postgresql, rates.applied),
        _debezium(sample, changes.produced_rate if changes else None, rates.capture),
        _topic("changes", sample, topics.CHANGES),
        _consumer("cdc_agent", "CDC agent", sample, topics.CHANGES, rates.changes),
        _read_model(sample, rates.projected),
        _read_api(peers),
    ]


@dataclass(frozen=True)
class StateInputs:
    """What `GET /pipeline/state` is built from."""

    worker: str
    history: PipelineHistory
    peers: Sequence[Peer] = ()
    now: float = 0.0


def own_windows(worker: str, history: PipelineHistory) -> Windows:
    """Return this worker's windows in the form its peers' answers take."""
    return Windows(worker, tuple(s.window for s in history.samples if s.window is not None))


def state_json(inputs: StateInputs) -> dict[str, Any]:
    """Return the page's JSON: the stages, the history of latency and lag, the workers."""
    history = inputs.history
    samples = list(history.samples)
    mine = own_windows(inputs.worker, history)
    answered = [p.windows for p in inputs.peers if p.windows is not None]
    rates = current_rates([mine, *answered], inputs.now, history.interval_seconds)
    latest = history.latest()
    p50, p99 = latency_series(samples, answered)
    workers: list[Mapping[str, Any]] = [
        {"url": inputs.worker, "self": True, "answered": True},
        *(
            {"url": p.url, "self": False, "answered": p.windows is not None, "error": p.error}
            for p in inputs.peers
        ),
    ]
    return {
        "sampled_at": latest.t if latest else None,
        "interval_seconds": history.interval_seconds,
        "window_seconds": history.interval_seconds * history.samples.size,
        "stages": [s.as_json() for s in stages(latest, rates, inputs.peers)],
        "history": {
            "t": [s.t for s in samples],
            "latency_p50": p50,
            "latency_p99": p99,
            "lag": [s.total_lag for s in samples],
        },
        "workers": workers,
    }
