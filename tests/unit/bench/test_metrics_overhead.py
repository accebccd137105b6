"""The metrics path's figures, ratios and table, and how it is chosen on the command line."""

from __future__ import annotations

from typing import Any

import pytest

from bench.config import PATHS, parse
from bench.context import Bench
from bench.metrics_overhead import metrics_path, metrics_table, summarize


def _run(rps: float, p50: float, p99: float, *, steady: bool = True) -> dict[str, Any]:
    return {
        "write": {
            "rps": rps,
            "latency": {"p99_ms": 20.0},
            "services_cpu_cores": {"cud_api": rps / 1000.0, "streams": 0.5},
            "generator_cpu": {"cpu_cores": 0.1},
        },
        "e2e": {
            "latency": {"p50_ms": p50, "p99_ms": p99},
            "services_cpu_cores": {"streams": 0.3},
            "generator_cpu": {"cpu_cores": 0.05},
            "steady": steady,
        },
        "load_average_1m": 2.5,
    }


RUNS = {
    "on": [_run(500, 100, 200), _run(480, 110, 220), _run(520, 90, 180, steady=False)],
    "off": [_run(600, 100, 200), _run(590, 100, 200), _run(610, 100, 200)],
}


def test_each_figure_is_the_median_of_its_setting_and_the_ratio_is_on_over_off():
    s = summarize(RUNS)
    assert s["on"]["write_rps"] == {"median": 500, "min": 480, "max": 520, "runs": 3}
    assert s["off"]["write_rps"]["median"] == 600
    assert s["ratio_on_off"]["write_rps"] == pytest.approx(500 / 600)
    assert s["ratio_on_off"]["e2e_p99_ms"] == pytest.approx(1.0)
    # cores / req/s: 1 ms of the write API's CPU a request in both settings here.
    assert s["on"]["write_cud_api_cpu_ms_per_request"]["median"] == pytest.approx(1.0)
    assert s["e2e_steady_runs"] == {"on": 2, "off": 3}


def _result() -> dict[str, Any]:
    return {
        "order": ["on", "off"] * 3,
        "write_clients": 8,
        "e2e_rate": 50,
        "summary": summarize(RUNS),
        "runs": RUNS,
    }


def test_the_table_shows_both_settings_the_ratio_and_the_five_percent_verdict():
    text = metrics_table(_result())
    lines = text.splitlines()
    assert "order: on off on off on off" in lines[0]
    assert "| metrics on " in lines[1] and "| metrics off " in lines[1]
    write = next(line for line in lines if "write POST req/s, 8 clients" in line)
    assert "500 [480-520]" in write and "600 [590-610]" in write
    assert "0.833" in write and "MISSED" in write
    p99 = next(line for line in lines if "p99 ms @ 50/s" in line)
    assert "1.000" in p99 and "met" in p99
    assert any("generator" in line for line in lines)
    assert any("2 of 3" in line and "3 of 3" in line for line in lines)


def test_the_metrics_path_runs_only_when_named():
    assert "metrics" not in parse([]).sizes.paths
    assert parse(["--paths", "metrics"]).sizes.paths == ("metrics",)
    assert set(PATHS) <= set(parse(["--paths", ",".join((*PATHS, "metrics"))]).sizes.paths)
    with pytest.raises(SystemExit):
        parse(["--paths", "nonsense"])
    assert parse(["--metrics-order", "off,on"]).sizes.metrics_order == ("off", "on")
    with pytest.raises(SystemExit):
        parse(["--metrics-order", "on,on"])


def test_the_metrics_path_refuses_a_stack_it_may_not_restart():
    bench = Bench.__new__(Bench)
    bench.isolated = None
    with pytest.raises(RuntimeError, match="--stack isolated"):
        metrics_path(bench)
