"""Quantiles from a histogram's bucket deltas, as PromQL's histogram_quantile estimates them."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram

from streams.monitoring.quantiles import Buckets, add, delta, quantile, quantiles, read_buckets
from tests.unit.streams.history_readings import BOUNDS, buckets


def test_a_quantile_is_interpolated_linearly_within_its_bucket():
    window = buckets(10, 20, 20, 20)
    assert quantile(0.5, window) == pytest.approx(0.1)
    # rank 19.8 is 9.8 of the 10 observations in (0.1, 0.5]
    assert quantile(0.99, window) == pytest.approx(0.1 + 0.4 * 9.8 / 10)
    assert quantile(0.25, window) == pytest.approx(0.05)


def test_a_rank_in_the_inf_bucket_gives_the_highest_finite_bound():
    assert quantile(0.5, buckets(0, 0, 0, 5)) == 1.0
    assert quantile(0.99, buckets(90, 90, 90, 100)) == 1.0


def test_no_observations_give_no_quantile():
    assert quantile(0.5, buckets(0, 0, 0, 0)) is None
    assert quantile(0.5, Buckets((), ())) is None
    assert quantile(0.5, Buckets((1.0, 2.0), (1, 2))) is None  # no +Inf bucket: not a histogram


def test_a_quantile_outside_0_and_1_is_refused():
    with pytest.raises(ValueError):
        quantile(1.5, buckets(1, 1, 1, 1))


def test_a_window_is_the_difference_of_two_readings():
    before, after = buckets(1, 2, 3, 3), buckets(4, 6, 7, 8)
    assert delta(before, after) == buckets(3, 4, 4, 5)
    assert quantiles([0.5, 0.99], delta(before, after)) == [
        pytest.approx(0.1 * 2.5 / 3),
        1.0,
    ]


def test_a_reading_lower_than_the_one_before_means_a_restart_and_counts_alone():
    assert delta(buckets(5, 5, 5, 5), buckets(1, 2, 2, 2)) == buckets(1, 2, 2, 2)


def test_two_workers_windows_add_up_and_differing_buckets_are_refused():
    assert add(buckets(1, 1, 1, 1), buckets(0, 2, 3, 4)) == buckets(1, 3, 4, 5)
    other = Buckets((0.2, math.inf), (1, 1))
    with pytest.raises(ValueError):
        add(buckets(1, 1, 1, 1), other)
    with pytest.raises(ValueError):
        delta(buckets(1, 1, 1, 1), other)


def test_a_prometheus_histogram_is_read_as_cumulative_buckets():
    histogram = Histogram(
        "h_seconds", "a histogram", buckets=BOUNDS[:-1], registry=CollectorRegistry()
    )
    for value in (0.05, 0.05, 0.3, 2.0):
        histogram.observe(value)
    assert read_buckets(histogram) == buckets(2, 3, 3, 4)
