"""The benchmark suite runs end to end with tiny sizes and writes well-formed results.

It asserts that the suite ran and what it wrote is complete and well-formed: never a timing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.cli import run_suite, write_outputs
from bench.config import PATHS, parse
from bench.metrics_overhead import metrics_table
from bench.report import table
from bench.soak import soak_table
from compose.launcher import IsolatedStack
from tests.integration.conftest import needs

pytestmark = pytest.mark.slow


def _spread_ok(s: dict[str, Any]) -> bool:
    return s["runs"] >= 1 and s["min"] <= s["median"] <= s["max"]


def test_smoke_run_of_the_bench_writes_table_json_and_png(
    stack: IsolatedStack, tmp_path: Path
) -> None:
    needs(stack, "postgres", "kafka", "connect", "ferretdb", "cud_api", "streams")
    options = parse(["--smoke", "--stack", "running", "--out", str(tmp_path)])

    results = run_suite(stack.addresses, options)
    written = write_outputs(results, tmp_path)

    errors = {k: v for k, v in results["errors"].items() if not k.endswith("_traceback")}
    assert errors == {}, results["errors"]
    for path in PATHS:
        assert path in results
    meta = results["meta"]
    assert meta["machine"]["cores"] >= 1 and meta["machine"]["memory_gib"] > 0
    assert meta["git"]["commit"]
    assert meta["packages"]["faust-streaming"]

    for data in results["write"]["by_clients"].values():
        assert _spread_ok(data["api"]["summary"]["rps"])
        assert _spread_ok(data["baseline"]["summary"]["rps"])
        # A new key per request: every keyed POST is a first use, answered 202.
        assert _spread_ok(data["keyed"]["summary"]["rps"])
        assert data["keyed"]["runs"][0]["errors"] == 0, data["keyed"]["runs"][0]
        assert data["api"]["runs"][0]["generator_cpu"]["cpu_s"] >= 0
    for data in results["e2e"]["by_rate"].values():
        run = data["runs"][0]
        # Every accepted write is timed from the changelog; a sample is checked over HTTP.
        assert run["method"] == "changelog"
        assert run["tracked"] >= 1 and run["invisible"] == 0, run
        assert run["latency"]["count"] == run["tracked"]
        assert run["http_sample"]["sampled"] >= 1
        assert run["http_sample"]["http_latency"]["count"] >= 1
        assert run["probe"]["error"] is None and run["probe"]["cpu_s"] >= 0
        assert run["probe"]["http_requests"] >= run["http_sample"]["sampled"]
        assert run["probe"]["http_rps"] <= options.sizes.e2e_probe_max_rps + 1
        assert _spread_ok(data["summary"]["p50_ms"])
    assert _spread_ok(results["e2e"]["baseline"]["summary"]["sum_p50_ms"])
    assert _spread_ok(results["read"]["targets"]["by_id"]["summary"]["rps"])
    # The session's stack runs as in production, without READ_API_BENCH_PROBE: the constant
    # view's baseline is skipped, and the run says so.
    assert "constant_view" not in results["read"]["targets"]
    assert any("READ_API_BENCH_PROBE=1" in note for note in results["notes"]), results["notes"]
    # The raw PyMongo baseline reads bucket documents: a figure when they exist, else n/a
    # and the run says so.
    pymongo_rps = results["read"]["targets"]["pymongo_find"]["summary"]["rps"]
    if pymongo_rps["median"] is None:
        assert any("PyMongo baseline n/a" in note for note in results["notes"]), results["notes"]
    else:
        assert _spread_ok(pymongo_rps)

    growth = results["growth"]["by_size"]
    assert set(growth) == {str(n) for n in options.sizes.growth_sizes}
    todos = [growth[str(n)]["todos"] for n in sorted(options.sizes.growth_sizes)]
    assert todos == sorted(todos) and todos[0] >= min(options.sizes.growth_sizes)
    for step in growth.values():
        for name in ("list_first", "list_after", "by_id"):
            assert _spread_ok(step["targets"][name]["summary"]["rps"]), name
            assert step["targets"][name]["summary"]["errors"] == 0, name
            assert step["targets"][name]["runs"][0]["generator_cpu"]["cpu_cores"] > 0
    walk = growth[str(options.sizes.growth_walk_size)]["walk"]
    assert walk["pass"], walk
    assert walk["check"]["returned"] == walk["check"]["expected"] >= options.sizes.growth_walk_size

    for data in results["replay"]["by_events"].values():
        assert _spread_ok(data["raw_aiokafka"]["summary"]["events_per_s"])
        assert _spread_ok(data["bare_faust_agent"]["summary"]["events_per_s"])
        assert data["bare_faust_agent"]["runs"][0]["events"] == data["events"]
        assert data["rebuild"]["runs"][0]["complete"], data["rebuild"]["runs"][0]
    assert set(results["replay"]["by_events"]) == {str(n) for n in options.sizes.replay_events}
    assert set(results["memory"]["idle"]) >= {"postgres", "kafka", "streams"}

    saved = json.loads(written["json"].read_text())
    assert saved["meta"]["started_at"] == meta["started_at"]
    for plot in ("png", "growth_png"):
        assert written[plot].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = table(results)
    for path in ("write", "e2e", "read", "growth", "replay"):
        assert f"| {path} " in text, path
    assert "walk ?limit=" in text


@pytest.mark.disruptive(stops="cud_api,streams")
def test_smoke_run_of_the_metrics_path_measures_both_settings_and_restores_the_stack(
    stack: IsolatedStack, tmp_path: Path
) -> None:
    needs(stack, "postgres", "kafka", "connect", "ferretdb", "cud_api", "streams")
    options = parse(["--smoke", "--paths", "metrics", "--out", str(tmp_path)])

    results = run_suite(stack.addresses, options, stack)

    errors = {k: v for k, v in results["errors"].items() if not k.endswith("_traceback")}
    assert errors == {}, results["errors"]
    measured = results["metrics"]
    assert measured["order"] == ["on", "off"]
    for setting, status in (("on", 200), ("off", 404)):
        (run,) = measured["runs"][setting]
        # The switch really flipped: both /metrics pages answered as the setting says.
        assert run["metrics_status"] == {"cud_api": status, "streams": status}, setting
        assert run["write"]["requests"] >= 1 and run["write"]["errors"] == 0, run["write"]
        assert run["write"]["services_cpu_cores"]["cud_api"] > 0
        assert run["e2e"]["tracked"] >= 1 and run["e2e"]["invisible"] == 0, run["e2e"]
        assert _spread_ok(measured["summary"][setting]["write_rps"])
        assert _spread_ok(measured["summary"][setting]["e2e_p50_ms"])
    assert measured["summary"]["ratio_on_off"]["write_rps"] > 0
    text = metrics_table(measured)
    assert "| metrics on " in text and "| metrics off " in text
    assert "e2e 202->readable p99 ms" in text and "generator" in text

    # Supervisord runs both services again, with the stack's own setting (metrics on).
    assert requests.get(f"{stack.addresses.write_url}/metrics", timeout=10).status_code == 200
    assert requests.get(f"{stack.addresses.read_url}/metrics", timeout=10).status_code == 200
    assert {row.service: row.state for row in stack.status()}["streams"] == "RUNNING"


def test_short_soak_writes_its_table_json_and_png_with_a_figure_per_process(
    stack: IsolatedStack, tmp_path: Path
) -> None:
    needs(stack, "postgres", "kafka", "connect", "ferretdb", "cud_api", "streams")
    options = parse(
        ["--smoke", "--stack", "running", "--paths", "soak", "--soak-minutes", "0.75",
         "--soak-sample-s", "5", "--out", str(tmp_path)]
    )  # fmt: skip

    results = run_suite(stack.addresses, options)
    written = write_outputs(results, tmp_path)

    errors = {k: v for k, v in results["errors"].items() if not k.endswith("_traceback")}
    assert errors == {}, results["errors"]
    soak = results["soak"]
    assert len(soak["samples"]) >= 6
    for name in ("postgres", "kafka", "connect", "ferretdb", "cud_api", "streams"):
        figures = soak["processes"][name]
        assert figures["rss_after_warmup_mib"] > 0 and figures["rss_end_mib"] > 0, name
        assert isinstance(figures["growth_pct"], float), name
        assert 0 < figures["pss_end_mib"] <= figures["rss_end_mib"], name
        assert figures["fds_start"] > 0 and figures["fds_end"] > 0, name
    assert soak["lag"]["max"] is not None and soak["lag"]["max"] >= 0
    load = soak["load"]
    assert load["accepted"] >= 0.9 * load["scheduled"] > 0, load
    assert load["by_operation"]["update"] > 0 and load["by_operation"]["delete"] > 0, load
    assert load["reads"]["list_200"] > 0, load["reads"]
    assert load["generator_cpu"]["cpu_cores"] > 0
    # The write API's own count agrees with what the generator saw accepted.
    assert soak["write_api"]["accepted"] >= load["accepted"]
    assert set(soak["targets"]) == {
        "rss_growth_under_10pct",
        "pss_growth_under_10pct",
        "pss_outside_segments_under_10pct",
        "lag_not_growing",
        "no_error_lines",
    }
    assert written["soak_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(written["json"].read_text())["soak"]["samples"][0]["t"] == 0.0
    text = soak_table(soak)
    assert "| streams |" in text and "| cud_api |" in text
    assert "largest RSS growth after warm-up" in text
    assert "largest PSS growth after warm-up" in text
    assert "largest PSS growth outside a fixed shared segment after warm-up" in text
