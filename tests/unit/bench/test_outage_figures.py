"""The outages path's figures: write recovery, read-side recovery, doubled rows."""

from __future__ import annotations

from bench.outages import LATE_S, doubled, outage_plan, read_recovery_s, write_recovery_s


def test_write_recovery_is_the_first_accept_after_the_last_refusal_past_the_return() -> None:
    refusals = [100.0, 101.0, 131.0, 133.0]
    accepts = [90.0, 95.0, 132.0, 134.5, 140.0]
    assert write_recovery_s(refusals, accepts, back_at=130.0) == 4.5


def test_write_recovery_is_zero_when_nothing_is_refused_after_the_return() -> None:
    assert write_recovery_s([100.0, 120.0], [90.0, 131.0], back_at=130.0) == 0.0


def test_write_recovery_is_none_when_no_write_is_accepted_after_the_last_refusal() -> None:
    assert write_recovery_s([131.0, 150.0], [132.0], back_at=130.0) is None


def test_read_recovery_is_when_the_last_held_up_write_became_visible() -> None:
    accepted = {1: 100.0, 2: 120.0, 3: 131.0}
    # 1 and 2 waited out the outage; 3 was seen at its normal latency.
    visible = {1: 100.5, 2: 160.0, 3: 131.4}
    assert read_recovery_s(accepted, visible, back_at=130.0) == 30.0


def test_read_recovery_is_zero_when_every_write_was_visible_within_the_normal_latency() -> None:
    accepted = {1: 100.0, 2: 131.0}
    visible = {1: 130.0 + LATE_S - 1, 2: 131.0 + LATE_S - 1}
    assert read_recovery_s(accepted, visible, back_at=130.0) == 0.0


def test_read_recovery_is_none_when_an_accepted_write_never_became_visible() -> None:
    assert read_recovery_s({1: 100.0, 2: 101.0}, {1: 100.2}, back_at=130.0) is None


def test_doubled_counts_rows_beyond_one_per_scheduled_write_of_this_run() -> None:
    rows = {"run-1": 1, "run-2": 2, "run-3": 3, "other-run-9": 4}
    accepted = {"run-1": 1, "run-2": 1, "run-3": 1}
    assert doubled(rows, accepted) == 3


def test_the_plan_runs_each_fault_at_each_length_or_at_its_own() -> None:
    assert outage_plan(["kafka:60", "postgres:45", "ferretdb"], [10, 20]) == [
        ("kafka", 60.0),
        ("postgres", 45.0),
        ("ferretdb", 10.0),
        ("ferretdb", 20.0),
    ]
