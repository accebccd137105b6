"""Quantiles of a Prometheus histogram over a window, from its cumulative bucket counts.

The same estimate as PromQL's `histogram_quantile`: find the bucket the rank falls in and
interpolate linearly within it; a rank in the +Inf bucket gives the highest finite bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import Histogram


@dataclass(frozen=True)
class Buckets:
    """A histogram's cumulative counts by upper bound, the last bound being +Inf."""

    bounds: tuple[float, ...]
    counts: tuple[float, ...]

    @property
    def total(self) -> float:
        """Return the number of observations (the +Inf bucket's count)."""
        return self.counts[-1] if self.counts else 0.0


def read_buckets(histogram: Histogram) -> Buckets:
    """Return the histogram's cumulative bucket counts now (an unlabelled histogram)."""
    pairs = [
        (float(sample.labels["le"]), sample.value)
        for family in histogram.collect()
        for sample in family.samples
        if sample.name.endswith("_bucket")
    ]
    pairs.sort()
    return Buckets(tuple(b for b, _ in pairs), tuple(c for _, c in pairs))


def delta(before: Buckets, after: Buckets) -> Buckets:
    """Return the observations between two readings of one histogram.

    A count that went down means the process restarted between them: the later reading is
    then all there is of the window.
    """
    if before.bounds != after.bounds:
        raise ValueError("the readings are of histograms with different buckets")
    if any(a < b for a, b in zip(after.counts, before.counts, strict=True)):
        return after
    return Buckets(
        after.bounds, tuple(a - b for a, b in zip(after.counts, before.counts, strict=True))
    )


def add(first: Buckets, second: Buckets) -> Buckets:
    """Return the sum of two windows of histograms with the same buckets (two workers')."""
    if first.bounds != second.bounds:
        raise ValueError("the windows are of histograms with different buckets")
    return Buckets(
        first.bounds, tuple(a + b for a, b in zip(first.counts, second.counts, strict=True))
    )


def quantile(q: float, buckets: Buckets) -> float | None:
    """Return the q-quantile (0 <= q <= 1) of the observations, or None when there are none."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile is between 0 and 1, not {q}")
    if len(buckets.bounds) < 2 or not math.isinf(buckets.bounds[-1]) or buckets.total <= 0:
        return None
    rank = q * buckets.total
    index = next(i for i, count in enumerate(buckets.counts) if count >= rank)
    if index == len(buckets.bounds) - 1:
        return buckets.bounds[-2]
    upper = buckets.bounds[index]
    if index == 0:
        lower, below = 0.0, 0.0
        if upper <= 0:
            return upper
    else:
        lower, below = buckets.bounds[index - 1], buckets.counts[index - 1]
    inside = buckets.counts[index] - below
    if inside <= 0:
        return upper
    return lower + (upper - lower) * (rank - below) / inside


def quantiles(qs: Sequence[float], buckets: Buckets) -> list[float | None]:
    """Return each of the quantiles `qs` of the observations."""
    return [quantile(q, buckets) for q in qs]
