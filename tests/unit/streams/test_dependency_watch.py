"""The dependency watch's state machine on a hand-moved clock: one log line per change."""

from __future__ import annotations

import logging

import pytest

from streams.monitoring import dependencies
from streams.monitoring.dependencies import DependencyWatch
from tests.support.clock import Clock

WALL_OFFSET = 1_780_000_000.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def watch(clock: Clock) -> DependencyWatch:
    return DependencyWatch(("kafka", "postgres"), clock=clock, wall=lambda: WALL_OFFSET + clock.now)


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (record.levelname, record.getMessage())
        for record in caplog.records
        if record.name == dependencies.__name__
    ]


def fail(watch: DependencyWatch, clock: Clock, times: int, every: float = 2.0) -> None:
    for _ in range(times):
        watch.failed("kafka", "ConnectionRefusedError: refused")
        clock.now += every


def test_a_first_answer_makes_a_dependency_up_without_a_line(watch, caplog):
    caplog.set_level(logging.INFO)
    assert watch.report()["kafka"] == {"state": "unknown"}
    watch.answered("kafka", 0.01)
    assert watch.report()["kafka"]["state"] == "up"
    assert lines(caplog) == []


def test_one_failed_probe_is_not_an_outage(watch, clock, caplog):
    caplog.set_level(logging.INFO)
    watch.answered("kafka", 0.01)
    fail(watch, clock, 1)
    watch.answered("kafka", 0.01)
    assert watch.report()["kafka"]["state"] == "up"
    assert lines(caplog) == []


def test_an_outage_is_one_warning_going_and_one_info_coming_back_with_its_length(
    watch, clock, caplog
):
    caplog.set_level(logging.INFO)
    watch.answered("kafka", 0.01)
    clock.now += 2
    fail(watch, clock, 30)  # 60 s of failed probes
    watch.answered("kafka", 0.01)
    found = lines(caplog)
    assert [level for level, _ in found] == ["WARNING", "INFO"]
    assert found[0][1].startswith("kafka down: ConnectionRefusedError: refused (2 probes failed")
    # Counted from the first failed probe, not from the second that made it down.
    assert found[1][1].startswith("kafka back after 60.0 s (down since ")


def test_the_report_names_the_state_since_when_and_a_growing_duration(watch, clock):
    watch.answered("kafka", 0.01)
    fail(watch, clock, 2)
    first = watch.report()["kafka"]
    assert first["state"] == "down"
    assert first["down_for_s"] == 4.0
    assert first["last_error"] == "ConnectionRefusedError: refused"
    assert first["since"] == "2026-05-28T20:43:20+00:00"
    clock.now += 10
    later = watch.report()["kafka"]
    assert later["down_for_s"] == 14.0 and later["since"] == first["since"]
    assert watch.problems(["kafka"]) == ["kafka down for 14s"]
    assert watch.problems(["postgres"]) == []
    assert watch.warnings(["postgres"]) == ["kafka down for 14s"]


def test_a_down_dependency_back_tells_the_listeners(watch, clock):
    back: list[str] = []
    watch.on_back(back.append)
    watch.answered("kafka", 0.01)
    fail(watch, clock, 2)
    assert back == []
    watch.answered("kafka", 0.01)
    assert back == ["kafka"]


def test_one_slow_answer_is_a_spike_and_three_in_a_row_are_slow(watch, clock, caplog):
    caplog.set_level(logging.INFO)
    watch.answered("postgres", 0.01)
    watch.answered("postgres", 0.9)
    watch.answered("postgres", 0.01)
    assert watch.report()["postgres"]["state"] == "up"
    for _ in range(dependencies.SLOW_PROBES):
        clock.now += 2
        watch.answered("postgres", 0.9)
    report = watch.report()["postgres"]
    assert report["state"] == "slow" and report["latency_ms"] == 900.0
    assert watch.warnings([]) == ["postgres slow for 0s"]
    clock.now += 8
    for _ in range(dependencies.SLOW_PROBES):
        watch.answered("postgres", 0.01)
    assert watch.report()["postgres"]["state"] == "up"
    found = lines(caplog)
    assert [level for level, _ in found] == ["WARNING", "INFO"]
    assert found[0][1].startswith("postgres slow: 3 probes in a row took over 0.5 s")
    assert found[1][1] == "postgres fast again after 8.0 s slow"


def test_a_summary_comes_every_period_while_something_is_down(watch, clock, caplog):
    caplog.set_level(logging.INFO)
    held = {"kafka": 0}
    watch.count_held_back_with(lambda: dict(held), held.__getitem__)
    watch.answered("kafka", 0.01)
    assert watch.summary() is None
    fail(watch, clock, 2)
    assert watch.summary() is None  # not a full period yet
    clock.now += dependencies.SUMMARY_SECONDS
    held["kafka"] = 250
    text = watch.summary()
    assert text is not None
    # The period began when kafka went down (its second failed probe, 2 s after the first).
    assert text.startswith("still kafka down for 64 s (ConnectionRefusedError: refused)")
    assert text.endswith("250 repeated log records held back in the last 62 s (kafka 250)")
    assert watch.summary() is None  # the next one is a period later
    held["kafka"] = 0
    watch.answered("kafka", 0.01)
    clock.now += dependencies.SUMMARY_SECONDS
    assert watch.summary() is None  # all up, nothing held back: nothing to say


def test_records_held_back_while_all_is_up_are_still_counted_in_a_summary(watch, clock, caplog):
    caplog.set_level(logging.INFO)
    watch.count_held_back_with(lambda: {"kafka": 3}, lambda name: 3)
    watch.answered("kafka", 0.01)
    assert watch.summary() is None  # the first call starts the first period
    clock.now += dependencies.SUMMARY_SECONDS
    assert watch.summary() == (
        "all dependencies up; 3 repeated log records held back in the last 60 s (kafka 3)"
    )


def test_the_back_line_counts_the_records_held_back_during_the_outage(watch, clock, caplog):
    caplog.set_level(logging.INFO)
    watch.count_held_back_with(dict, {"kafka": 212}.__getitem__)
    watch.answered("kafka", 0.01)
    fail(watch, clock, 3)
    watch.answered("kafka", 0.01)
    assert lines(caplog)[-1][1] == (
        "kafka back after 6.0 s (down since 20:43:20 UTC; 212 repeated log records about it "
        "held back)"
    )
