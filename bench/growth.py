"""The growth path: the read side's cost at growing read-model sizes, and a walk of the list.

At each size (the bench user's todos in PostgreSQL, bulk-loaded, projected by CDC until the
lag is 0; the lists are that user's) wrk
measures the first list page, list pages at random `after` positions, reads by random
existing id, and the worker's constant view as the baseline, all in the same run. At the walk
size the whole list is walked page by page and checked against PostgreSQL.
"""

from __future__ import annotations

import logging
from typing import Any

from bench.context import Bench
from bench.reads import (
    Target,
    by_id_target,
    constant_target,
    list_after_target,
    list_first_target,
    read_with_wrk,
    seed_and_project,
    wait_mongo_idle,
)
from bench.seed import all_ids, id_range, live_count, sample_ids
from bench.stats import run_summary
from bench.walk import walk_and_check

log = logging.getLogger("bench")

LIST_LIMIT = 100


def _measure(bench: Bench, ids: list[int], low: int, high: int) -> dict[str, Any]:
    sizes = bench.sizes
    targets: dict[str, Target | None] = {
        "constant_view": constant_target(bench),
        "by_id": by_id_target(bench, ids),
        "list_first": list_first_target(bench, LIST_LIMIT),
        "list_after": list_after_target(bench, low, high, LIST_LIMIT),
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, t in targets.items() if t}
    for run in range(sizes.runs):
        for name, target in targets.items():
            if target is None:
                continue
            runs[name].append(read_with_wrk(bench, name, run, target))
            if name.startswith("list"):
                wait_mongo_idle(bench, ids[0], sizes.quiesce_timeout_s)
    return {
        name: {
            "summary": {
                **run_summary(rs, "p50_ms", "p99_ms"),
                "errors": sum(r["errors"] for r in rs),
                "wrk_cpu_cores": max(r["generator_cpu"]["cpu_cores"] for r in rs),
            },
            "runs": rs,
        }
        for name, rs in runs.items()
    }


def _walk(bench: Bench, limit: int) -> dict[str, Any]:
    conninfo = bench.stack.postgres.conninfo
    expected = all_ids(conninfo, bench.user.user_id)
    url = f"{bench.stack.read_url}/api/todos/?limit={limit}"
    result = walk_and_check(
        url, expected, timeout_s=bench.sizes.growth_walk_timeout_s, headers=bench.user.headers
    )
    result["limit"] = limit
    log.info("walk of %d todos: %s, %d pages at %.1f pages/s, pass=%s", len(expected),
             result["status"], result["pages"], result["pages_per_s"] or 0,
             result["pass"])  # fmt: skip
    return result


def growth_path(bench: Bench) -> dict[str, Any]:
    """Seed to each size, measure the read side there; walk the list at the walk size."""
    sizes = bench.sizes
    conninfo = bench.stack.postgres.conninfo
    by_size: dict[str, Any] = {}
    for size in sorted(sizes.growth_sizes):
        seeded, projected_s = seed_and_project(bench, size, sizes.growth_seed_timeout_s)
        bench.quiesce()
        owner = bench.user.user_id
        todos = live_count(conninfo, owner)
        span = id_range(conninfo, owner)
        ids = sample_ids(conninfo, sizes.read_ids, owner)
        if span is None or not ids:
            raise RuntimeError("PostgreSQL holds no todos after seeding")
        log.info("growth: %d todos (size %d), %d seeded, projected in %.1f s",
                 todos, size, seeded.rows, projected_s)  # fmt: skip
        step: dict[str, Any] = {
            "size": size,
            "todos": todos,
            "seeded": seeded.rows,
            "seed_s": round(seeded.seconds, 2),
            "seeded_to_projected_s": round(projected_s, 2),
            "targets": _measure(bench, ids, span[0], span[1]),
        }
        if size == sizes.growth_walk_size:
            step["walk"] = _walk(bench, sizes.growth_walk_limit)
        by_size[str(size)] = step
    if str(sizes.growth_walk_size) not in by_size:
        bench.note(f"growth: walk size {sizes.growth_walk_size} is not one of the growth sizes")
    return {"clients": sizes.read_clients, "list_limit": LIST_LIMIT, "by_size": by_size}
