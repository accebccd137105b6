"""The table: issue 11's figures with their baselines and verdicts."""

from __future__ import annotations

from typing import Any

from bench.report import rows, table


def _s(value: float | None) -> dict[str, Any]:
    return {"median": value, "min": value, "max": value, "runs": 1 if value is not None else 0}


def _target(rps: float, p99: float) -> dict[str, Any]:
    return {"summary": {"rps": _s(rps), "p50_ms": _s(1.0), "p99_ms": _s(p99), "errors": 0,
                        "wrk_cpu_cores": 0.4}}  # fmt: skip


def _step(size: int, list_rps: float, list_p99: float, walk: bool = False) -> dict[str, Any]:
    step: dict[str, Any] = {
        "size": size,
        "todos": size,
        "targets": {
            "constant_view": _target(10_000, 5),
            "by_id": _target(6_000, 9),
            "list_first": _target(list_rps, list_p99),
            "list_after": _target(list_rps, list_p99),
        },
    }
    if walk:
        step["walk"] = {
            "limit": 100, "pass": True, "status": "complete", "pages": 1000, "pages_per_s": 80.0,
            "check": {"returned": size, "expected": size, "missing": 0, "duplicates": 0,
                      "out_of_order": 0},
        }  # fmt: skip
    return step


def _growth_results(large_rps: float) -> dict[str, Any]:
    return {
        "meta": {"sizes": {"growth_walk_size": 100_000}},
        "growth": {
            "clients": 32,
            "by_size": {
                "10000": _step(10_000, 600, 50),
                "100000": _step(100_000, 550, 80, walk=True),
                "1000000": _step(1_000_000, large_rps, 90),
            },
        },
    }


def _row(results: dict[str, Any], start: str) -> tuple[str, ...]:
    found = [r for r in rows(results) if r[1].startswith(start)]
    assert len(found) == 1, [r[1] for r in rows(results)]
    return found[0]


def test_the_list_target_is_judged_at_100000_todos() -> None:
    row = _row(_growth_results(500), "list?limit=100 @ 32 clients, 100,000 todos")
    assert row[2] == "550 / 80.0" and row[5] == "met"


def test_the_list_target_is_missed_when_requests_failed() -> None:
    results = _growth_results(500)
    results["growth"]["by_size"]["100000"]["targets"]["list_first"]["summary"]["errors"] = 3
    row = _row(results, "list?limit=100 @ 32 clients, 100,000 todos")
    assert row[5] == "MISSED"


def test_the_size_ratio_is_met_within_20_percent_and_missed_beyond() -> None:
    assert _row(_growth_results(500), "list req/s 1,000,000 / 10,000")[5] == "met"
    missed = _row(_growth_results(300), "list req/s 1,000,000 / 10,000")
    assert missed[2] == "0.50" and missed[5] == "MISSED"


def test_the_walk_reports_pass_and_pages_per_second() -> None:
    row = _row(_growth_results(500), "walk ?limit=100 @ 100,000 todos")
    assert row[2] == "pass, 80.0" and row[5] == "met"


def test_replay_at_500000_events_is_judged_against_10000_per_s_and_6_percent_of_raw() -> None:
    def replay(rate: float) -> dict[str, Any]:
        return {"replay": {"by_events": {"500000": {
            "events": 500_000,
            "raw_aiokafka": {"summary": {"events_per_s": _s(100_000)}},
            "rebuild": {"summary": {"events_per_s": _s(rate), "pct_of_raw": rate / 1000}},
        }}}}  # fmt: skip

    assert _row(replay(12_000), "rebuild events/s")[5] == "met"
    row = _row(replay(2_000), "rebuild events/s")
    assert row[2] == "2,000 = 2.0% of raw" and row[5] == "MISSED"


def test_read_by_id_is_judged_as_a_share_of_the_constant_view() -> None:
    read = {"read": {"clients": 32, "targets": {
        "constant_view": _target(10_000, 5), "by_id": _target(4_000, 9),
        "pymongo_find": {"summary": {"rps": _s(None)}},
    }}}  # fmt: skip
    row = _row(read, "GET by id")
    assert "40% of const" in row[2] and row[5] == "MISSED"
    assert "pymongo bucket find n/a" in row[3]
    assert "| read " in table(read)


def test_the_replay_row_names_the_bare_faust_agent_beside_raw_aiokafka() -> None:
    data = {"replay": {"by_events": {"100000": {
        "events": 100_000,
        "raw_aiokafka": {"summary": {"events_per_s": _s(60_000)}},
        "bare_faust_agent": {"summary": {"events_per_s": _s(3_800), "pct_of_raw": 6.3}},
        "rebuild": {"summary": {"events_per_s": _s(1_000), "pct_of_raw": 1.7}},
    }}}}  # fmt: skip
    row = _row(data, "rebuild events/s")
    assert row[3] == "raw aiokafka 60,000; a bare Faust agent 3,800"


def test_the_e2e_rows_show_the_worker_loop_threads_wait_for_a_core() -> None:
    summary: dict[str, Any] = {k: _s(1.0) for k in ("p50_ms", "p95_ms", "p99_ms")}
    summary.update(
        steady=False,
        achieved_rate=_s(642),
        worker_thread_run=_s(0.38),
        worker_thread_wait=_s(0.6),
        services_waiting_cores=_s(7.6),
    )
    base = {f"sum_{p}": _s(30) for p in ("p50_ms", "p95_ms", "p99_ms")}
    results = {"e2e": {"baseline": {"summary": base}, "by_rate": {"1000": {"summary": summary}}}}
    row = _row(results, "  CPU @ 1000/s")
    assert row[2] == "0.38 / 0.60"
    assert row[3] == "all services waited 7.60 cores; 642 writes/s achieved"
