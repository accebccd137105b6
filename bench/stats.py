"""Percentiles, percentile curves, the median/min/max summary of repeated runs, lag trends."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

# Percentiles drawn in the PNG (HdrHistogram style: latency against percentile).
CURVE_GRID: tuple[float, ...] = (
    0.0, 1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0,
    92.5, 95.0, 96.0, 97.0, 97.5, 98.0, 98.5, 99.0, 99.25, 99.5, 99.75, 99.9, 99.95, 99.99, 100.0,
)  # fmt: skip


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile `pct` (0..100) of an already sorted sequence."""
    if not sorted_values:
        return math.nan
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    rank = (len(sorted_values) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    frac = rank - low
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * frac)


def latency_summary(samples_s: Iterable[float]) -> dict[str, Any]:
    """Summarise latencies given in seconds as milliseconds: count, mean, p50..p99.9, max, curve."""
    values = sorted(s * 1000.0 for s in samples_s)
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "mean_ms": statistics.fmean(values),
        "p50_ms": percentile(values, 50),
        "p90_ms": percentile(values, 90),
        "p95_ms": percentile(values, 95),
        "p99_ms": percentile(values, 99),
        "p999_ms": percentile(values, 99.9),
        "max_ms": values[-1],
        "curve_ms": [[p, percentile(values, p)] for p in CURVE_GRID],
    }


def spread(values: Iterable[float | None]) -> dict[str, Any]:
    """Median, min and max of one figure over repeated runs (runs lacking it are skipped)."""
    present = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not present:
        return {"median": None, "min": None, "max": None, "runs": 0}
    return {
        "median": statistics.median(present),
        "min": min(present),
        "max": max(present),
        "runs": len(present),
    }


def median_run(runs: Sequence[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The run whose `key` is the median one (used to pick a representative curve to plot)."""
    ranked = sorted((r for r in runs if r.get(key) is not None), key=lambda r: float(r[key]))
    return ranked[len(ranked) // 2] if ranked else None


def thin(points: Sequence[Any], limit: int) -> list[Any]:
    """At most `limit` of `points`, evenly spaced, first and order kept (for plots)."""
    if limit <= 0:
        return []
    if len(points) <= limit:
        return list(points)
    step = len(points) / limit
    return [points[int(i * step)] for i in range(limit)]


def run_summary(runs: Sequence[dict[str, Any]], *keys: str) -> dict[str, Any]:
    """Median/min/max of `rps` and of the latency percentiles `keys` over runs."""
    out: dict[str, Any] = {"rps": spread(r.get("rps") for r in runs)}
    for key in keys:
        out[key] = spread((r.get("latency") or {}).get(key) for r in runs)
    return out


# Faust commits a group's offsets every 2.8 s (broker_commit_interval), so the committed lag
# a sampler reads is a sawtooth: it climbs with the input between commits and falls back at
# each one. A run starts from a quiesced lag of 0, before the first cycle has climbed.
LAG_SETTLE_S = 4.0


def lag_growing(
    samples: Sequence[dict[str, Any]], rate: float, *, settle_s: float = LAG_SETTLE_S
) -> tuple[bool, float | None]:
    """Whether the summed consumer lag grows at `rate` inputs/s: (growing, trend in records/s)."""
    # The floor of a third (the backlog just after a commit) ignores the sawtooth's phase. The
    # margin of two seconds of input covers a sample landing up to a second after a commit: in
    # a 15 s run a backlog rising by a third of the input is caught, a slower one is left to the
    # run's latency limit. The trend must also exceed 5% of the rate.
    points = [(s["t"], float(sum(v for k, v in s.items() if k != "t"))) for s in samples]
    if points:
        start = points[0][0]
        points = [p for p in points if p[0] - start >= settle_s]
    if len(points) < 6:
        return False, None
    slope = statistics.linear_regression([t for t, _ in points], [y for _, y in points]).slope
    third = len(points) // 3
    first_floor = min(y for _, y in points[:third])
    last_floor = min(y for _, y in points[-third:])
    return (slope > 0.05 * rate and last_floor - first_floor > 2 * rate), slope
