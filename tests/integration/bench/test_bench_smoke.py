"""The benchmark suite runs end to end with tiny sizes and writes well-formed results.

It asserts that the suite ran and what it wrote is complete and well-formed: never a timing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cli import run_suite, write_outputs
from bench.config import PATHS, parse
from bench.report import table
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
        assert data["api"]["runs"][0]["generator_cpu"]["cpu_s"] >= 0
    for data in results["e2e"]["by_rate"].values():
        assert data["runs"][0]["tracked"] >= 1
        assert _spread_ok(data["summary"]["p50_ms"])
    assert _spread_ok(results["e2e"]["baseline"]["summary"]["sum_p50_ms"])
    assert _spread_ok(results["read"]["targets"]["by_id"]["summary"]["rps"])
    # The session's stack runs as in production, without READ_API_BENCH_PROBE: the constant
    # view's baseline is skipped, and the run says so.
    assert "constant_view" not in results["read"]["targets"]
    assert any("READ_API_BENCH_PROBE=1" in note for note in results["notes"]), results["notes"]
    assert _spread_ok(results["read"]["targets"]["pymongo_find"]["summary"]["rps"])
    assert _spread_ok(results["replay"]["raw_aiokafka"]["summary"]["events_per_s"])
    assert results["replay"]["rebuild"]["runs"][0]["complete"]
    assert set(results["memory"]["idle"]) >= {"postgres", "kafka", "streams"}

    saved = json.loads(written["json"].read_text())
    assert saved["meta"]["started_at"] == meta["started_at"]
    assert written["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = table(results)
    assert "write" in text and "e2e" in text and "replay" in text
