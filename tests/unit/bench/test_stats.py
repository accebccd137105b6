"""Percentiles, run summaries and plot thinning of the benchmark."""

from __future__ import annotations

import math

from bench.stats import lag_growing, latency_summary, percentile, run_summary, spread, thin


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


def _sawtooth(rate: float, seconds: int, backlog_per_s: float = 0.0) -> list[dict[str, float]]:
    """Committed lag sampled once a second: two topics climbing with the input between
    commits every 2.8 s, a run that starts quiesced (0 for its first second), and a backlog
    that grows by `backlog_per_s`."""
    samples = [{"t": 0.0, "todos": 0, "changes": 0}]
    for t in range(1, seconds):
        since_commit = (t - 1) % 2.8
        backlog = backlog_per_s * t
        lag = rate * since_commit
        samples.append({"t": float(t), "todos": lag + backlog, "changes": lag})
    return samples


def test_a_pipeline_keeping_up_is_not_growing_whatever_the_sawtooth_phase() -> None:
    for rate in (50, 200, 1000):
        for seconds in (15, 17, 20, 60):
            assert lag_growing(_sawtooth(rate, seconds), rate)[0] is False, (rate, seconds)


def test_a_backlog_rising_by_a_third_of_the_input_is_growing_in_a_short_run() -> None:
    growing, slope = lag_growing(_sawtooth(200, 17, backlog_per_s=66), 200)
    assert growing is True
    assert slope is not None and slope > 10


def test_too_few_settled_samples_say_nothing() -> None:
    assert lag_growing(_sawtooth(50, 9), 50) == (False, None)  # 4 samples after the settle
    assert lag_growing([], 50) == (False, None)


def test_a_slower_backlog_is_left_to_the_latency_limit_in_a_short_run() -> None:
    # A fifth of the input for 17 s stays inside two seconds of input: not called growing here.
    assert lag_growing(_sawtooth(200, 17, backlog_per_s=40), 200)[0] is False
    assert lag_growing(_sawtooth(200, 60, backlog_per_s=40), 200)[0] is True
