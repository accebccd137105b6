"""The outages path's figures: write recovery, read-side recovery, doubled rows."""

from __future__ import annotations

from typing import Any

from bench.outages import (
    LATE_S,
    doubled,
    first_accept_s,
    outage_plan,
    outages_table,
    outcome_timeline,
    read_recovery_s,
    refusals_after_return_s,
    write_recovery_s,
)


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


def test_each_dependencys_last_refusal_is_counted_from_the_return() -> None:
    last = {"postgres": 128.0, "kafka": 179.64}
    assert refusals_after_return_s(last, back_at=130.0) == {"kafka": 49.6, "postgres": -2.0}
    assert refusals_after_return_s({}, back_at=130.0) == {}


def outage_result(**overrides: Any) -> dict[str, Any]:
    """One run's figures as outage_run returns them."""
    return {
        "fault": "kafka",
        "outage_s": 60.0,
        "writes_accepted": 900,
        "writes_refused_503": 123,
        "refused_by_dependency": {"postgres": 3, "kafka": 120},
        "last_refusal_after_return_s": {"postgres": -2.0, "kafka": 49.6},
        "connection_errors": 4,
        "failed_other_status": 5,
        "status_counts": {"202": 900, "503": 123, "401": 4, "400": 1, "-1": 4},
        "first_accept_s": 0.8,
        "recovery_writes_s": 50.1,
        "recovery_read_s": None,
        "lost": 0,
        "doubled_pg": 0,
        "doubled_mongo": 1,
        "error_lines": {"streams": 2, "connect": 5},
        **overrides,
    }


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """The table's header and body rows, cell by cell (the separator row left out)."""
    rows = [line for line in outages_table(result).splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_the_table_shows_what_refused_the_writes_and_when_it_last_did() -> None:
    header, row = table_rows({"rate": 10, "runs": [outage_result()]})
    cells = dict(zip(header, row, strict=True))
    assert cells["refused (503 / errors)"] == "123 / 4"
    assert cells["refused by"] == "kafka 120, postgres 3"
    assert cells["last 503 s"] == "kafka 49.6, postgres -2.0"
    assert cells["failed (other status)"] == "5 (400 1, 401 4)"
    assert cells["first 202 s"] == "0.8"
    assert cells["recovery s (writes)"] == "50.1"
    assert cells["recovery s (read side)"] == "never"
    assert cells["all ERROR lines"] == "7"


def test_a_run_saved_before_the_first_202_was_timed_shows_a_dash_for_it() -> None:
    saved_before = outage_result()
    del saved_before["first_accept_s"]
    header, row = table_rows({"rate": 10, "runs": [saved_before]})
    assert dict(zip(header, row, strict=True))["first 202 s"] == "-"


def test_the_first_202_is_counted_from_the_return() -> None:
    assert first_accept_s([100.0, 131.25, 140.0], back_at=130.0) == 1.2
    assert first_accept_s([100.0], back_at=130.0) is None


def test_a_run_without_refusals_shows_a_dash_in_their_columns() -> None:
    quiet = outage_result(refused_by_dependency={}, last_refusal_after_return_s={})
    saved_before = outage_result()
    del saved_before["refused_by_dependency"], saved_before["last_refusal_after_return_s"]
    header, *rows = table_rows({"rate": 10, "runs": [quiet, saved_before]})
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        assert (cells["refused by"], cells["last 503 s"]) == ("-", "-")


def test_convergence_reads_the_packed_buckets_and_marks_readable_todos_visible(tmp_path) -> None:
    from types import SimpleNamespace

    from bench.outages import Convergence
    from contracts.stores import bucket_key, pack

    asked: list[dict[str, Any]] = []

    class Pages:
        def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
            asked.append(query)
            if query == {"_id": bucket_key(2, 0)}:
                return {"_id": bucket_key(2, 0), "todos": pack([{"id": 5}, {"id": 6}])}
            return None

    class Http:
        def get(self, url: str, **_: Any) -> Any:
            return SimpleNamespace(status_code=200 if url.endswith("/5/") else 404)

    bench = SimpleNamespace(
        stack=SimpleNamespace(read_url="http://read"),
        user=SimpleNamespace(user_id=2, headers=lambda: {}),
    )
    tracker = Convergence(bench, tmp_path / "accepted.jsonl")  # type: ignore[arg-type]
    tracker.accepted = {5: 1.0, 6: 1.0, 7: 1.0, 130: 1.0}
    tracker._in_pg = {5, 6, 7, 130}  # no PostgreSQL query in this test
    tracker._poll(Pages(), Http(), owner=2)  # type: ignore[arg-type]
    assert set(tracker.visible) == {5} and tracker._in_mongo == {5, 6}
    # One equality per bucket (FerretDB pushes it down), not one `$in` over them.
    assert asked == [{"_id": bucket_key(2, 0)}, {"_id": bucket_key(2, 1)}]


def test_the_timeline_counts_each_outcome_in_its_five_seconds_around_the_return() -> None:
    back_at = 1000.0
    accepts = [991.0, 1002.0, 1003.0, 1061.0]  # the last is past the span
    failures = [
        (995.0, 996.0, "503"),
        (990.5, 1005.5, "timeout"),  # sent before the return, timed out after it
        (1001.0, 1001.1, "connection_error"),
    ]
    timeline = outcome_timeline(accepts, failures, back_at)
    assert [b["from_s"] for b in timeline] == [-10.0 + 5 * k for k in range(14)]
    by_start = {b["from_s"]: b for b in timeline}
    assert by_start[-10.0]["202"] == 1
    assert by_start[-10.0]["sent_timeout"] == 1
    assert by_start[-5.0]["503"] == 1
    assert by_start[0.0]["202"] == 2
    assert by_start[0.0]["connection_error"] == 1
    assert by_start[0.0]["sent_connection_error"] == 1
    assert by_start[5.0]["timeout"] == 1
    assert sum(b["202"] for b in timeline) == 3
    assert sum(b["503"] + b["timeout"] + b["connection_error"] for b in timeline) == 3
