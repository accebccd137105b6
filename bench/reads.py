"""Reading the read API under wrk: shared by the read and growth paths, and the read path."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import requests
from pymongo import MongoClient

from bench.context import Bench
from bench.procs import run_generator
from bench.seed import Seeded, sample_ids, seed_to
from bench.stats import run_summary
from bench.wrk import authorized, get_by_id_script, list_after_script, run_wrk, script
from compose.polling import wait_until
from contracts import topics
from contracts.stores import READ_MODEL_PAGES, bucket_key, bucket_of

log = logging.getLogger("bench")

Target = tuple[str, str]  # (url, wrk Lua script)


def _readable(url: str, headers: dict[str, str]) -> bool:
    try:
        return requests.get(url, headers=headers, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def wait_projected(bench: Bench, last_id: int | None, timeout_s: float) -> float:
    """Wait until `last_id` is readable by id and the pipeline's lag is 0; return the seconds."""
    start = time.monotonic()
    if last_id is not None:
        url = f"{bench.stack.read_url}/api/todos/{last_id}/"
        with contextlib.suppress(TimeoutError):  # the lag check below still decides
            wait_until(lambda: _readable(url, bench.user.headers()), timeout=timeout_s,
                       interval=1.0, what=f"todo {last_id} readable")  # fmt: skip
    left = max(10.0, timeout_s - (time.monotonic() - start))
    drained, lags = bench.kafka.wait_drained(
        topics.PIPELINE, timeout=left, group=bench.sizes.pipeline_group
    )
    if not drained:
        bench.note(f"read model still lagging after {timeout_s:.0f}s of seeding: {lags}")
    return time.monotonic() - start


def seed_and_project(bench: Bench, count: int, timeout_s: float) -> tuple[Seeded, float]:
    """Bulk-load the bench user's todos up to `count`, then wait until the read model has them."""
    seeded = seed_to(bench.stack.postgres.conninfo, count, bench.user.user_id)
    if seeded.rows:
        log.info("seeded %d todos in %.1f s", seeded.rows, seeded.seconds)
    waited = wait_projected(bench, seeded.last_id, timeout_s)
    return seeded, waited


def constant_view_missing(bench: Bench) -> str | None:
    """Why the read API has no constant view to measure, or None when it has one."""
    url = bench.stack.read_url + bench.sizes.constant_path
    try:
        response = requests.get(url, timeout=5)
    except requests.RequestException as exc:
        return f"{url} did not answer ({exc.__class__.__name__})"
    if response.ok:
        return None
    return (
        f"{url} answers {response.status_code}: the stack runs without READ_API_BENCH_PROBE=1"
        " (start it with that variable set to measure this baseline)"
    )


def wait_mongo_idle(bench: Bench, todo_id: int, timeout_s: float) -> None:
    """Wait until finds by `_id` answer within 50 ms again (FerretDB done with old queries)."""
    client: MongoClient[dict[str, Any]] = MongoClient(bench.stack.mongo_url)
    try:
        db = client[bench.stack.mongo_db]
        probes = ((db[READ_MODEL_PAGES], bucket_key(bench.user.user_id, bucket_of(todo_id))),)

        def quick() -> bool:
            start = time.monotonic()
            for coll, key in probes:
                coll.find_one({"_id": key})
            return time.monotonic() - start < 0.05 * len(probes)

        with contextlib.suppress(TimeoutError):  # still slow: measure anyway, as before
            wait_until(quick, timeout=timeout_s, interval=0.5, what="FerretDB idle")
    finally:
        client.close()


def with_token(lua: str, bench: Bench) -> str:
    """A target's script sending the bench user's token (fresh for this run) on every request."""
    return authorized(lua, bench.user.token())


def read_with_wrk(bench: Bench, name: str, run: int, target: Target) -> dict[str, Any]:
    """One wrk run of a read target, with the services' and wrk's own CPU."""
    sizes = bench.sizes
    meter = bench.cpu_meter()
    meter.start()
    lua = with_token(target[1], bench)
    res, cpu = run_wrk(target[0], connections=sizes.read_clients,
                       duration_s=sizes.read_duration_s, lua=lua)  # fmt: skip
    res["services_cpu_cores"] = meter.stop()
    res["generator_cpu"] = cpu
    log.info("read %s run=%d: %.0f req/s p99 %.1f ms (%d errors), wrk %.2f cores",
             name, run, res["rps"], res["latency"]["p99_ms"] or -1, res["errors"],
             cpu["cpu_cores"])  # fmt: skip
    return res


def by_id_target(bench: Bench, ids: list[int]) -> Target:
    """GET /api/todos/<random existing id>/."""
    return f"{bench.stack.read_url}/api/todos/", get_by_id_script("/api/todos/", ids)


def list_first_target(bench: Bench, limit: int = 100) -> Target:
    """GET /api/todos/?limit=<limit>: the first page."""
    return f"{bench.stack.read_url}/api/todos/?limit={limit}", script("")


def list_after_target(bench: Bench, low: int, high: int, limit: int = 100) -> Target:
    """GET /api/todos/?limit=<limit>&after=<random id in [low, high]>: a page anywhere."""
    return f"{bench.stack.read_url}/api/todos/", list_after_script("/api/todos/", low, high, limit)


def constant_target(bench: Bench) -> Target | None:
    """The worker's constant view, or None (with a note) when the stack does not serve it."""
    missing = constant_view_missing(bench)
    if missing is None:
        return bench.stack.read_url + bench.sizes.constant_path, script("")
    note = f"read: constant-view baseline skipped, {missing}"
    if note not in bench.notes:
        bench.note(note)
    return None


def pymongo_bucket_find(bench: Bench, ids: list[int]) -> dict[str, Any]:
    """Raw PyMongo: find the bench user's bucket documents of random ids, closed loop."""
    sizes = bench.sizes
    meter = bench.cpu_meter()
    meter.start()
    res, cpu = run_generator(
        "mongo_find",
        {
            "mongo_url": bench.stack.mongo_url,
            "mongo_db": bench.stack.mongo_db,
            "collection": READ_MODEL_PAGES,
            "keys": sorted({bucket_key(bench.user.user_id, bucket_of(i)) for i in ids}),
            "clients": sizes.read_clients,
            "duration_s": sizes.read_duration_s,
            "warmup_s": min(1.0, sizes.read_duration_s),
        },
        timeout=sizes.read_duration_s + 120,
    )
    res["services_cpu_cores"] = meter.stop()
    res["generator_cpu"] = cpu
    # No bucket document at all: the read model has another layout; the figure means nothing.
    res["found_none"] = res["requests"] > 0 and res["misses"] == res["requests"]
    if res["found_none"]:
        res["rps"] = None
    return res


def read_path(bench: Bench) -> dict[str, Any]:
    """By id and list?limit=100 with wrk vs the worker's constant view and raw PyMongo find."""
    sizes = bench.sizes
    seed_and_project(bench, sizes.read_ids, sizes.quiesce_timeout_s)
    bench.quiesce()
    ids = sample_ids(bench.stack.postgres.conninfo, sizes.read_ids, bench.user.user_id)
    if not ids:
        raise RuntimeError("PostgreSQL holds no todos to read")
    # The list runs last in each round: on a layout FerretDB cannot page by index, the list
    # requests wrk abandons keep FerretDB busy for a while after it stops.
    targets: dict[str, Target | None] = {
        "constant_view": constant_target(bench),
        "by_id": by_id_target(bench, ids),
    }
    runs: dict[str, list[dict[str, Any]]] = {
        name: [] for name in [*targets, "pymongo_find", "list_limit_100"]
    }
    for run in range(sizes.runs):
        for name, target in targets.items():
            if target is not None:
                runs[name].append(read_with_wrk(bench, name, run, target))
        runs["pymongo_find"].append(pymongo_bucket_find(bench, ids))
        wait_mongo_idle(bench, ids[0], sizes.quiesce_timeout_s)
        runs["list_limit_100"].append(
            read_with_wrk(bench, "list_limit_100", run, list_first_target(bench))
        )
        wait_mongo_idle(bench, ids[0], sizes.quiesce_timeout_s)
    if all(r["found_none"] for r in runs["pymongo_find"]):
        bench.note(
            f"read: raw PyMongo baseline n/a: no document in `{READ_MODEL_PAGES}` (the read model"
            " still has the per-todo layout)"
        )
    return {
        "ids": len(ids),
        "clients": sizes.read_clients,
        "targets": {
            name: {"summary": run_summary(rs, "p50_ms", "p99_ms"), "runs": rs}
            for name, rs in runs.items()
            if rs
        },
    }
