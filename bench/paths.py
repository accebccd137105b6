"""The five paths of issue 5: write, end-to-end, read, replay, memory, each with its baseline."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg
import requests
from pymongo import MongoClient

from bench.context import Bench, LagSampler
from bench.procs import rss_snapshot, run_generator
from bench.stats import spread
from bench.wrk import get_by_id_script, post_json_script, run_wrk, script
from compose.launcher import service_program
from compose.polling import wait_until
from compose.supervisor import Program
from contracts import topics
from contracts.stores import LEGACY_READ_MODEL_COLLECTION as MONGO_COLLECTION

log = logging.getLogger("bench")

PROBE_TOPIC = "bench.probe"
WRITE_BODY = {"title": "bench write", "description": "closed loop", "completed": False}


def _summary(runs: list[dict[str, Any]], *keys: str) -> dict[str, Any]:
    """median/min/max of `rps` and the latency percentiles over runs."""
    out: dict[str, Any] = {"rps": spread(r.get("rps") for r in runs)}
    for key in keys:
        out[key] = spread((r.get("latency") or {}).get(key) for r in runs)
    return out


# --- write ------------------------------------------------------------------------------------


def write_path(bench: Bench) -> dict[str, Any]:
    """POST /api/todos/ with wrk at each concurrency vs acks=all produce waits, interleaved."""
    sizes = bench.sizes
    url = f"{bench.stack.write_url}/api/todos/"
    lua = post_json_script(WRITE_BODY)
    result: dict[str, Any] = {"by_clients": {}}
    rss_after: dict[str, Any] | None = None
    for clients in sizes.write_clients:
        api_runs: list[dict[str, Any]] = []
        base_runs: list[dict[str, Any]] = []
        if sizes.write_warmup_s > 0:
            run_wrk(url, connections=clients, duration_s=sizes.write_warmup_s, lua=lua)
        for run in range(sizes.runs):
            bench.quiesce()
            meter = bench.cpu_meter()
            meter.start()
            api, gen_cpu = run_wrk(
                url, connections=clients, duration_s=sizes.write_duration_s, lua=lua
            )
            api["services_cpu_cores"] = meter.stop()
            api["generator_cpu"] = gen_cpu
            api_runs.append(api)
            if clients == sizes.write_clients[-1] and run == sizes.runs - 1:
                rss_after = rss_snapshot(bench.services)
            log.info("write api  c=%d run=%d: %.0f req/s p99 %.1f ms",
                     clients, run, api["rps"], api["latency"]["p99_ms"] or -1)  # fmt: skip
            bench.quiesce()
            meter.start()
            base, base_cpu = run_generator(
                "produce",
                {
                    "bootstrap": bench.stack.kafka,
                    "topic": topics.COMMANDS,
                    "clients": clients,
                    "duration_s": sizes.write_duration_s,
                    "warmup_s": min(1.0, sizes.write_warmup_s),
                    "pg": asdict(bench.stack.postgres),
                },
                timeout=sizes.write_duration_s + 120,
            )
            base["services_cpu_cores"] = meter.stop()
            base["generator_cpu"] = base_cpu
            base_runs.append(base)
            log.info("write base c=%d run=%d: %.0f req/s p99 %.1f ms",
                     clients, run, base["rps"], base["latency"].get("p99_ms", -1))  # fmt: skip
        result["by_clients"][str(clients)] = {
            "api": {"summary": _summary(api_runs, "p50_ms", "p99_ms"), "runs": api_runs},
            "baseline": {"summary": _summary(base_runs, "p50_ms", "p99_ms"), "runs": base_runs},
        }
    result["rss_after_write"] = rss_after
    bench.quiesce()
    return result


# --- end-to-end -------------------------------------------------------------------------------


def _lag_growing(samples: list[dict[str, Any]], rate: float) -> tuple[bool, float | None]:
    """Lag grows when its trend exceeds 5% of the offered rate and its last third sits more
    than one second of input above its first third (Faust commits every few seconds, so the
    committed lag is a sawtooth; only a trend beyond it counts)."""
    points = [(s["t"], sum(v for k, v in s.items() if k != "t")) for s in samples]
    if len(points) < 6:
        return False, None
    ts = [p[0] for p in points]
    ys = [float(p[1]) for p in points]
    slope = statistics.linear_regression(ts, ys).slope
    third = len(ys) // 3
    first, last = statistics.fmean(ys[:third]), statistics.fmean(ys[-third:])
    return (slope > 0.05 * rate and last - first > rate), slope


def _e2e_run(bench: Bench, rate: int) -> dict[str, Any]:
    sizes = bench.sizes
    bench.quiesce()
    meter = bench.cpu_meter()
    meter.start()
    with LagSampler(bench) as sampler:
        res, cpu = run_generator(
            "openloop",
            {
                "write_url": f"{bench.stack.write_url}/api/todos/",
                "read_url": bench.stack.read_url,
                "rate": rate,
                "duration_s": sizes.e2e_duration_s,
                "track_rate": sizes.e2e_track_rate,
                "poll_s": sizes.e2e_poll_s,
                "visible_timeout_s": sizes.e2e_visible_timeout_s,
            },
            timeout=sizes.e2e_duration_s + sizes.e2e_visible_timeout_s + 120,
        )
    res["services_cpu_cores"] = meter.stop()
    res["generator_cpu"] = cpu
    res["lag_samples"] = sampler.samples
    growing, slope = _lag_growing(sampler.samples, rate)
    p99 = res["latency"].get("p99_ms")
    res["lag_slope_per_s"] = slope
    res["lag_growing"] = growing
    res["steady"] = bool(
        p99 is not None
        and p99 < sizes.e2e_p99_limit_ms
        and not growing
        and res["invisible"] == 0
        and res["errors"] == 0
        and res["non_202"] == 0
        and res["achieved_rate"] >= 0.95 * rate
    )
    p50 = res["latency"].get("p50_ms", -1)
    log.info("e2e %d/s: p50 %.0f p99 %.0f ms, steady=%s, generator %.2f cores",
             rate, p50, p99 or -1, res["steady"], cpu["cpu_cores"])  # fmt: skip
    return res


def _stage_baseline(bench: Bench) -> dict[str, Any]:
    """Kafka produce->consume, a PostgreSQL single-row commit, Debezium's capture delay."""
    bench.kafka.ensure_topic(PROBE_TOPIC, bench.stack.partitions)
    runs = []
    for _ in range(bench.sizes.runs):
        res, cpu = run_generator(
            "stages",
            {
                "bootstrap": bench.stack.kafka,
                "probe_topic": PROBE_TOPIC,
                "cdc_topic": topics.CHANGES,
                "pg": asdict(bench.stack.postgres),
                "samples": bench.sizes.stage_samples,
                "interval_s": 0.02,
                "capture_timeout_s": 15.0,
                "partitions": bench.kafka.partitions(topics.CHANGES),
            },
            timeout=bench.sizes.stage_samples * 20 + 120,
        )
        res["generator_cpu"] = cpu
        stages = ("produce_to_consume", "pg_commit", "debezium_capture")
        for pct in ("p50_ms", "p95_ms", "p99_ms"):
            values = [res[s].get(pct) for s in stages]
            res[f"sum_{pct}"] = sum(values) if all(v is not None for v in values) else None
        runs.append(res)
    summary = {
        f"sum_{p}": spread(r[f"sum_{p}"] for r in runs) for p in ("p50_ms", "p95_ms", "p99_ms")
    }
    for stage in ("produce_to_consume", "ack_to_consume", "pg_commit", "debezium_capture"):
        summary[stage] = {
            p: spread(r[stage].get(p) for r in runs) for p in ("p50_ms", "p95_ms", "p99_ms")
        }
    return {"summary": summary, "runs": runs}


def e2e_path(bench: Bench) -> dict[str, Any]:
    """202 -> readable at the read API, open loop at fixed rates; then the highest steady rate."""
    sizes = bench.sizes
    result: dict[str, Any] = {"baseline": _stage_baseline(bench), "by_rate": {}}
    verdicts: dict[int, bool] = {}
    for rate in sizes.e2e_rates:
        runs = [_e2e_run(bench, rate) for _ in range(sizes.runs)]
        steady_runs = sum(r["steady"] for r in runs)
        verdicts[rate] = steady_runs * 2 > len(runs)
        result["by_rate"][str(rate)] = {
            "summary": {
                **{
                    k: spread(r["latency"].get(k) for r in runs)
                    for k in ("p50_ms", "p95_ms", "p99_ms")
                },
                "achieved_rate": spread(r["achieved_rate"] for r in runs),
                "generator_cpu_cores": spread(r["generator_cpu"]["cpu_cores"] for r in runs),
                "steady_runs": steady_runs,
                "steady": verdicts[rate],
            },
            "runs": runs,
        }
    # Highest steady rate: climb the search ladder between the highest steady fixed rate and
    # the lowest unsteady one, one run per step, stopping at the first unsteady step.
    passing = [r for r, ok in verdicts.items() if ok]
    failing = [r for r, ok in verdicts.items() if not ok]
    floor = max(passing, default=0)
    ceiling = min((r for r in failing if r > floor), default=None)
    search: list[dict[str, Any]] = []
    for rate in sorted(sizes.e2e_search_rates):
        if rate <= floor or (ceiling is not None and rate >= ceiling):
            continue
        run = _e2e_run(bench, rate)
        search.append({"rate": rate, "steady": run["steady"], "run": run})
        if not run["steady"]:
            break
        floor = rate
    result["search"] = search
    result["max_steady_rate"] = floor or None
    result["max_steady_rate_bound"] = (
        ceiling if not search or search[-1]["steady"] else search[-1]["rate"]
    )
    bench.quiesce()
    return result


# --- read -------------------------------------------------------------------------------------


def _visible_ids(bench: Bench, limit: int) -> list[int]:
    client: MongoClient[dict[str, Any]] = MongoClient(bench.stack.mongo_url)
    try:
        coll = client[bench.stack.mongo_db][MONGO_COLLECTION]
        cursor = coll.find({"deleted": {"$ne": True}}, {"_id": 1}).sort("_id", -1).limit(limit)
        return [int(d["_id"]) for d in cursor]
    finally:
        client.close()


def _seed_todos(bench: Bench, count: int) -> None:
    """Make sure at least `count` todos exist, inserting the missing ones in bulk (CDC carries
    them to the read model: the fastest honest way to a large read model and CDC topic)."""
    with psycopg.connect(bench.stack.postgres.conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM todos").fetchone()
        have = int(row[0]) if row else 0
        missing = count - have
        while missing > 0:
            batch = min(missing, 10_000)
            conn.execute(
                "INSERT INTO todos (title, description, completed, created_at, updated_at, version)"
                " SELECT 'bench seed ' || g, 'seeded for the read and replay paths', g %% 2 = 0,"
                " now(), now(), 1 FROM generate_series(1, %s) AS g",
                (batch,),
            )
            conn.commit()
            missing -= batch


def _wait_read_model(bench: Bench, expected: int, timeout: float) -> int:
    """Wait until the read model holds `expected` live todos; return how many it holds."""
    client: MongoClient[dict[str, Any]] = MongoClient(bench.stack.mongo_url)
    have = 0
    try:
        coll = client[bench.stack.mongo_db][MONGO_COLLECTION]

        def filled() -> bool:
            nonlocal have
            have = coll.count_documents({"deleted": {"$ne": True}})
            return have >= expected

        with contextlib.suppress(TimeoutError):  # the caller reads what is there
            wait_until(filled, timeout=timeout, interval=1.0, what="read model filled")
        return have
    finally:
        client.close()


def _constant_view(bench: Bench) -> str | None:
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


def _wait_mongo_idle(bench: Bench, todo_id: int, timeout_s: float) -> None:
    """Wait until a find by _id answers within 50 ms again (FerretDB done with old queries)."""
    client: MongoClient[dict[str, Any]] = MongoClient(bench.stack.mongo_url)
    try:
        coll = client[bench.stack.mongo_db][MONGO_COLLECTION]

        def quick() -> bool:
            start = time.monotonic()
            coll.find_one({"_id": todo_id})
            return time.monotonic() - start < 0.05

        with contextlib.suppress(TimeoutError):  # still slow: measure anyway, as before
            wait_until(quick, timeout=timeout_s, interval=0.5, what="FerretDB idle")
    finally:
        client.close()


def _read_with_wrk(bench: Bench, name: str, run: int, target: tuple[str, str]) -> dict[str, Any]:
    """One wrk run of a read target (url, lua script), with the services' and wrk's CPU."""
    sizes = bench.sizes
    meter = bench.cpu_meter()
    meter.start()
    res, cpu = run_wrk(target[0], connections=sizes.read_clients,
                       duration_s=sizes.read_duration_s, lua=target[1])  # fmt: skip
    res["services_cpu_cores"] = meter.stop()
    res["generator_cpu"] = cpu
    log.info("read %s run=%d: %.0f req/s p99 %.1f ms (%d errors)",
             name, run, res["rps"], res["latency"]["p99_ms"] or -1, res["errors"])  # fmt: skip
    return res


def read_path(bench: Bench) -> dict[str, Any]:
    """By id and list?limit=100 with wrk vs the worker's constant view and raw PyMongo find."""
    sizes = bench.sizes
    with psycopg.connect(bench.stack.postgres.conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM todos").fetchone()
    expected = max(int(row[0]) if row else 0, sizes.read_ids)
    _seed_todos(bench, sizes.read_ids)
    bench.quiesce()
    _wait_read_model(bench, min(expected, sizes.read_ids), sizes.quiesce_timeout_s)
    ids = _visible_ids(bench, sizes.read_ids)
    if not ids:
        raise RuntimeError("the read model holds no todos to read")
    read = bench.stack.read_url
    # The list runs last in each round: on FerretDB every list request sorts the whole
    # collection, and the requests wrk abandons keep FerretDB busy for a while after it stops.
    targets: dict[str, tuple[str, str] | None] = {
        "constant_view": (f"{read}{sizes.constant_path}", script("")),
        "by_id": (f"{read}/api/todos/", get_by_id_script("/api/todos/", ids)),
    }
    list_target = (f"{read}/api/todos/?limit=100", script(""))
    missing = _constant_view(bench)
    if missing is not None:
        targets["constant_view"] = None
        bench.note(
            f"read: constant-view baseline skipped, {missing}; the web layer's ceiling on the"
            " same worker was not measured"
        )
    runs: dict[str, list[dict[str, Any]]] = {
        name: [] for name in [*targets, "pymongo_find", "list_limit_100"]
    }
    for run in range(sizes.runs):
        for name, target in targets.items():
            if target is None:
                continue
            runs[name].append(_read_with_wrk(bench, name, run, target))
        meter = bench.cpu_meter()
        meter.start()
        res, cpu = run_generator(
            "mongo_find",
            {
                "mongo_url": bench.stack.mongo_url,
                "mongo_db": bench.stack.mongo_db,
                "collection": MONGO_COLLECTION,
                "ids": ids,
                "clients": sizes.read_clients,
                "duration_s": sizes.read_duration_s,
                "warmup_s": min(1.0, sizes.read_duration_s),
            },
            timeout=sizes.read_duration_s + 120,
        )
        res["services_cpu_cores"] = meter.stop()
        res["generator_cpu"] = cpu
        runs["pymongo_find"].append(res)
        _wait_mongo_idle(bench, ids[0], sizes.quiesce_timeout_s)
        runs["list_limit_100"].append(_read_with_wrk(bench, "list_limit_100", run, list_target))
        _wait_mongo_idle(bench, ids[0], sizes.quiesce_timeout_s)
    return {
        "ids": len(ids),
        "clients": sizes.read_clients,
        "targets": {
            name: {"summary": _summary(rs, "p50_ms", "p99_ms"), "runs": rs}
            for name, rs in runs.items()
            if rs
        },
    }


# --- replay -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _replay_worker(bench: Bench, app_id: str, mongo_db: str, data_dir: Path, port: int) -> Program:
    """The stack's own worker, running only the CDC projection under a fresh app id."""
    return service_program(
        bench.stack,
        "streams",
        {
            "STREAMS_APP_ID": app_id,
            "STREAMS_AGENTS": "project_changes",
            "MONGO_DB": mongo_db,
            "FAUST_DATA_DIR": str(data_dir),
            "READ_API_PORT": str(port),
            # Its constant view answering times the moment its web server is up.
            "READ_API_BENCH_PROBE": "1",
        },
    )


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=0.5).status_code == 200
    except requests.RequestException:
        return False


class _WorkerExitedError(Exception):
    """The replay worker stopped before it had caught up."""


def _rebuild_once(bench: Bench, events: int, expected_docs: int) -> dict[str, Any]:
    """Start a fresh worker (new app id, empty RocksDB dir, empty Mongo DB) and time its rebuild."""
    tag = uuid.uuid4().hex[:8]
    app_id, mongo_db = f"bench-replay-{tag}", f"bench_replay_{tag}"
    data_dir = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    port = _free_port()
    client: MongoClient[dict[str, Any]] = MongoClient(bench.stack.mongo_url)
    coll = client[mongo_db][MONGO_COLLECTION]
    log_path = data_dir / "worker.log"
    worker = _replay_worker(bench, app_id, mongo_db, data_dir, port)
    t0 = time.monotonic()
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            worker.command,
            env={**os.environ, **worker.environment},
            cwd=worker.directory,
            stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    # The rebuild is timed from the moment the worker's web server answers (it starts just
    # before the consumer), so the figure is the projection's rate, not the process start-up,
    # to the moment its group has committed the topic's end (faust commits every ~3 s, so the
    # figure is slightly low). Not by polling the collection's count: on FerretDB a count
    # scans the collection (~1 s at 50,000 documents), and polling it competed with the very
    # writes being timed. The documents are counted once, after.
    ends = bench.kafka.end_offsets(topics.CHANGES)
    t_first: float | None = None
    have = 0

    def caught_up() -> bool:
        nonlocal t_first
        if proc.poll() is not None:
            raise _WorkerExitedError(f"exit code {proc.returncode}")
        if t_first is None and _answers(f"http://127.0.0.1:{port}{bench.sizes.constant_path}"):
            t_first = time.monotonic()
        return _committed_to(bench, app_id, ends)

    try:
        with contextlib.suppress(TimeoutError, _WorkerExitedError):  # reported as incomplete below
            wait_until(
                caught_up,
                timeout=bench.sizes.replay_timeout_s,
                interval=0.2,
                what=f"replay worker {app_id} caught up",
            )
        t_done = time.monotonic()
        have = coll.estimated_document_count()
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        client.drop_database(mongo_db)
        client.close()
        tail = log_path.read_text()[-2000:] if log_path.exists() else ""
        shutil.rmtree(data_dir, ignore_errors=True)
    done = have >= expected_docs
    streaming = t_done - (t_first or t0)
    return {
        "events": events,
        "documents": have,
        "expected_documents": expected_docs,
        "complete": done,
        "total_s": t_done - t0,
        "streaming_s": streaming,
        "events_per_s": events / streaming if done and streaming > 0 else None,
        "events_per_s_with_startup": events / (t_done - t0) if done else None,
        "worker_log_tail": None if done else tail,
        "command": " ".join(worker.command),
    }


def _committed_to(bench: Bench, group: str, ends: dict[int, int]) -> bool:
    """Whether `group` has committed every partition of the CDC topic up to `ends`."""
    try:
        committed = (
            bench.kafka.groups_on([topics.CHANGES], group).get(group, {}).get(topics.CHANGES, {})
        )
    except Exception:  # the group coordinator is busy (the worker is joining): read again
        return False
    return all(committed.get(partition, -1) >= end for partition, end in ends.items())


def _wait_topic_stable(bench: Bench, topic: str, timeout: float, quiet_s: float = 3.0) -> None:
    """Wait until `topic` stops growing for `quiet_s` (Debezium has caught up)."""
    last, stable_since = -1, time.monotonic()

    def stable() -> bool:
        nonlocal last, stable_since
        count = bench.kafka.message_count(topic)
        if count != last:
            last, stable_since = count, time.monotonic()
            return False
        return time.monotonic() - stable_since > quiet_s

    with contextlib.suppress(TimeoutError):  # still growing: replay what is there
        wait_until(stable, timeout=timeout, interval=0.5, what=f"{topic} stable")


def replay_path(bench: Bench) -> dict[str, Any]:
    """Rebuild the read model from the CDC topic at offset 0 vs raw aiokafka consumption."""
    sizes = bench.sizes
    _seed_todos(bench, sizes.replay_todos)
    bench.quiesce()
    _wait_topic_stable(bench, topics.CHANGES, sizes.quiesce_timeout_s)
    bench.quiesce()
    events = bench.kafka.message_count(topics.CHANGES)
    client: MongoClient[dict[str, Any]]
    with MongoClient(bench.stack.mongo_url) as client:
        expected_docs = client[bench.stack.mongo_db][MONGO_COLLECTION].count_documents({})
    result: dict[str, Any] = {"events": events, "documents": expected_docs}
    raw_runs = []
    for _ in range(sizes.runs):
        res, cpu = run_generator(
            "consume",
            {
                "bootstrap": bench.stack.kafka,
                "topic": topics.CHANGES,
                "partitions": bench.kafka.partitions(topics.CHANGES),
                "starts": {str(p): o for p, o in bench.kafka.start_offsets(topics.CHANGES).items()},
                "ends": {str(p): o for p, o in bench.kafka.end_offsets(topics.CHANGES).items()},
            },
            timeout=sizes.replay_timeout_s,
        )  # fmt: skip
        res["generator_cpu"] = cpu
        raw_runs.append(res)
    result["raw_aiokafka"] = {
        "summary": {"events_per_s": spread(r["events_per_s"] for r in raw_runs)},
        "runs": raw_runs,
    }
    rebuild_runs = [_rebuild_once(bench, events, expected_docs) for _ in range(sizes.runs)]
    result["rebuild_command"] = rebuild_runs[0]["command"] if rebuild_runs else None
    result["rebuild"] = {
        "summary": {
            "events_per_s": spread(r["events_per_s"] for r in rebuild_runs),
            "events_per_s_with_startup": spread(
                r["events_per_s_with_startup"] for r in rebuild_runs
            ),
        },
        "runs": rebuild_runs,
    }
    return result


# --- memory -----------------------------------------------------------------------------------


def idle_memory(bench: Bench) -> dict[str, Any]:
    """RSS of each service's process tree, now (call it while the stack is idle)."""
    bench.refresh_services()
    return rss_snapshot(bench.services)
