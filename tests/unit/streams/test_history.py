"""The pipeline's history: the ring, the samples' rates and windows, lag that persists."""

from __future__ import annotations

import pytest

from contracts import topics
from streams.monitoring import metrics
from streams.monitoring.history import LagWatch, PipelineHistory, Ring, read_counts
from streams.monitoring.lag import StallWatch
from tests.unit.streams.history_readings import buckets, counts, offsets, reading


def test_the_ring_keeps_the_newest_items_oldest_first():
    ring: Ring[int] = Ring(3)
    assert ring.last() is None and list(ring) == []
    for n in range(5):
        ring.append(n)
    assert list(ring) == [2, 3, 4] and ring.last() == 4 and len(ring) == 3
    with pytest.raises(ValueError):
        Ring(0)


def test_the_first_sample_has_no_window_and_no_rate():
    history = PipelineHistory()
    sample = history.record(reading())
    assert sample.window is None
    assert sample.topics[topics.COMMANDS].produced_rate is None
    assert sample.topics[topics.COMMANDS].partitions == 2
    assert sample.total_lag == 0


def test_rates_are_the_growth_of_end_offsets_and_counters_over_the_interval():
    history = PipelineHistory()
    history.record(reading(t=1000.0, offsets=offsets((10, 10), (5, 5)), counts=counts(3, 3, 1, 1)))
    sample = history.record(
        reading(
            t=1005.0,
            offsets=offsets((30, 40), (15, 20), lag=4),
            counts=counts(53, 50, 26, 20, latency=buckets(5, 10, 10, 10)),
        )
    )
    assert sample.topics[topics.COMMANDS].produced_rate == pytest.approx(50 / 5)
    assert sample.topics[topics.CHANGES].produced_rate == pytest.approx(25 / 5)
    assert sample.topics[topics.COMMANDS].lag == 4
    assert sample.total_lag == 8
    window = sample.window
    assert window is not None
    assert (window.seconds, window.commands, window.applied) == (5.0, 50, 47)
    assert (window.changes, window.projected) == (25, 19)
    assert window.latency == buckets(5, 10, 10, 10)


def test_with_kafka_down_a_sample_has_no_topic_figures_and_the_next_no_rate():
    history = PipelineHistory()
    history.record(reading(t=1000.0))
    down = history.record(reading(t=1005.0, offsets=None, kafka_error="no offsets"))
    assert down.topics == {} and down.total_lag is None
    back = history.record(reading(t=1010.0, offsets=offsets((9, 9))))
    assert back.topics[topics.COMMANDS].produced_rate is None
    assert history.latest() is back and len(history.samples) == 3


def test_lag_that_grows_window_after_window_is_lagging_a_passing_one_is_not():
    watch = LagWatch()
    assert not watch.observe(offsets(lag=5))[topics.COMMANDS][0]
    assert not watch.observe(offsets(lag=3))[topics.COMMANDS][0]  # going down: catching up
    assert not watch.observe(offsets(lag=7))[topics.COMMANDS][0]  # one window of growth
    lagging, stalled = watch.observe(offsets(lag=9))[topics.COMMANDS]
    assert lagging and stalled == ()
    assert not watch.observe(offsets(lag=0))[topics.COMMANDS][0]


def test_lag_that_does_not_move_for_the_stall_time_is_lagging_and_names_the_partition():
    now = [0.0]
    watch = LagWatch(StallWatch(stall_seconds=30, clock=lambda: now[0]))
    assert watch.observe(offsets(lag=5))[topics.COMMANDS] == (False, ())
    now[0] = 31.0
    lagging, stalled = watch.observe(offsets(lag=5))[topics.COMMANDS]
    assert lagging and stalled == (f"{topics.COMMANDS}[0]",)
    # the change topic has the same lag on its first partition: it is named under its own topic
    assert watch.observe(offsets(lag=5))[topics.CHANGES][1] == (f"{topics.CHANGES}[0]",)


def test_the_counts_are_read_from_the_workers_metrics():
    before = read_counts()
    metrics.COMMANDS_APPLIED.inc(2)
    metrics.COMMANDS_REJECTED.inc()
    metrics.CHANGES_PROJECTED.inc(3)
    metrics.WRITE_TO_READABLE_SECONDS.observe(0.2)
    after = read_counts()
    assert after.commands - before.commands == 3
    assert after.applied - before.applied == 2
    assert after.changes - before.changes == 3 and after.projected - before.projected == 3
    assert after.latency.total - before.latency.total == 1
