"""Percentiles, run summaries and plot thinning of the benchmark."""

from __future__ import annotations

import math

from bench.stats import latency_summary, percentile, run_summary, spread, thin


def test_percentile_interpolates_between_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 50) == 30.0
    assert percentile(values, 100) == 50.0
    assert percentile(values, 90) == 46.0  # rank 3.6: 40 + 0.6 * 10


def test_percentile_of_nothing_is_nan_and_of_one_value_that_value() -> None:
    assert math.isnan(percentile([], 99))
    assert percentile([7.0], 99) == 7.0


def test_latency_summary_reports_milliseconds_from_seconds() -> None:
    summary = latency_summary([0.001 * i for i in range(1, 101)])
    assert summary["count"] == 100
    assert summary["p50_ms"] == 50.5
    assert abs(summary["p99_ms"] - 99.01) < 1e-9
    assert summary["max_ms"] == 100.0
    assert latency_summary([]) == {"count": 0}


def test_spread_skips_runs_without_the_figure() -> None:
    assert spread([3.0, None, 1.0, float("nan"), 2.0]) == {
        "median": 2.0, "min": 1.0, "max": 3.0, "runs": 3,
    }  # fmt: skip
    assert spread([None])["median"] is None


def test_run_summary_takes_rps_and_latency_keys() -> None:
    runs = [{"rps": 10.0, "latency": {"p99_ms": 5.0}}, {"rps": 30.0, "latency": {}}]
    summary = run_summary(runs, "p99_ms")
    assert summary["rps"]["median"] == 20.0
    assert summary["p99_ms"] == {"median": 5.0, "min": 5.0, "max": 5.0, "runs": 1}


def test_thin_keeps_at_most_limit_points_evenly_spread() -> None:
    points = list(range(10_000))
    kept = thin(points, 100)
    assert len(kept) == 100
    assert kept[0] == 0 and kept[1] == 100 and kept[-1] == 9_900
    assert thin(points[:5], 100) == [0, 1, 2, 3, 4]
    assert thin(points, 0) == []
