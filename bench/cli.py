"""`python -m bench`: run the paths against a stack, print the table, write the JSON and the PNG."""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import paths
from bench.config import Options, parse
from bench.context import Bench
from bench.growth import growth_path
from bench.machine import describe
from bench.metrics_overhead import metrics_path, metrics_table
from bench.outages import outages_path, outages_table
from bench.plot import draw, draw_growth
from bench.reads import read_path
from bench.replay import replay_path
from bench.report import table
from bench.soak import soak_path, soak_table
from bench.soak_plot import draw_soak
from bench.stack import open_stack
from bench.wrk import ensure_wrk
from compose.launcher import IsolatedStack, StackAddresses

log = logging.getLogger("bench")


def run_suite(
    stack: StackAddresses, options: Options, isolated: IsolatedStack | None = None
) -> dict[str, Any]:
    """Run every selected path against `stack`; a path that fails is recorded, not fatal.

    `isolated` is the stack's controls when the benchmark runs it (the metrics path needs them).
    """
    sizes = options.sizes
    started = datetime.now(UTC)
    ensure_wrk()
    bench = Bench(stack, sizes, isolated)
    bench.wait_ready()
    bench.refresh_services()
    results: dict[str, Any] = {
        "meta": {
            "started_at": started.isoformat(timespec="seconds"),
            "command": options.command,
            "stack": options.stack,
            "smoke": options.smoke,
            "sizes": asdict(sizes),
            **describe(stack),
        },
        "errors": {},
    }
    if "memory" in sizes.paths:
        bench.quiesce()
        results["memory"] = {"idle": paths.idle_memory(bench)}
    steps: list[tuple[str, Callable[[Bench], dict[str, Any]]]] = [
        ("write", paths.write_path),
        ("e2e", paths.e2e_path),
        ("read", read_path),
        ("growth", growth_path),
        ("replay", replay_path),
        ("metrics", metrics_path),
        ("soak", soak_path),
        ("outages", outages_path),
    ]
    for name, step in steps:
        if name not in sizes.paths:
            continue
        log.info("path %s ...", name)
        t0 = time.monotonic()
        try:
            results[name] = step(bench)
            results[name]["elapsed_s"] = round(time.monotonic() - t0, 1)
        except Exception as exc:  # one broken path must not hide the others' figures
            log.exception("path %s failed", name)
            results["errors"][name] = "".join(traceback.format_exception_only(exc)).strip()
            results["errors"][name + "_traceback"] = traceback.format_exc()[-4000:]
        if name == "write" and "memory" in sizes.paths and name in results:
            results["memory"]["after_write"] = results["write"].get("rss_after_write")
    results["notes"] = bench.notes
    results["meta"]["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results


def write_outputs(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write the JSON (timestamped and latest) and the PNG; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = results["meta"]["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    json_path = out_dir / f"bench-{stamp}.json"
    text = json.dumps(results, indent=1, default=str)
    json_path.write_text(text)
    (out_dir / "latest.json").write_text(text)
    png_path = draw(results, out_dir / f"bench-{stamp}.png")
    (out_dir / "latest.png").write_bytes(png_path.read_bytes())
    written = {"json": json_path, "png": png_path}
    growth_png = draw_growth(results, out_dir / f"bench-{stamp}-growth.png")
    if growth_png is not None:
        (out_dir / "latest-growth.png").write_bytes(growth_png.read_bytes())
        written["growth_png"] = growth_png
    soak_png = draw_soak(results, out_dir / f"bench-{stamp}-soak.png")
    if soak_png is not None:
        (out_dir / "latest-soak.png").write_bytes(soak_png.read_bytes())
        written["soak_png"] = soak_png
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; exit 0 when every selected path produced its figures."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s bench %(message)s", stream=sys.stderr
    )
    for noisy in ("aiokafka", "kafka", "urllib3", "pymongo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    options = parse(sys.argv[1:] if argv is None else argv)
    with open_stack(options.stack) as (stack, isolated):
        results = run_suite(stack, options, isolated)
    written = write_outputs(results, options.out_dir)
    print(table(results))
    if "metrics" in results:
        print(metrics_table(results["metrics"]))
    if "soak" in results:
        print(soak_table(results["soak"]))
    if "outages" in results:
        print(outages_table(results["outages"]))
    for note in results["notes"]:
        print(f"note: {note}")
    for name, error in results["errors"].items():
        if not name.endswith("_traceback"):
            print(f"error in {name}: {error}")
    plots = "  ".join(str(v) for k, v in written.items() if k != "json")
    print(f"results: {written['json']}  plots: {plots}")
    return 1 if any(not k.endswith("_traceback") for k in results["errors"]) else 0
