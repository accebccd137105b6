"""The replay path: a fresh worker rebuilding the read model from offset 0, at given event counts.

For each count N the CDC topic is filled to at least N events (bulk-loaded todos), and the
first N events (a per-partition cut from offset 0) are timed three times: raw aiokafka reading
them, a Faust agent that only iterates them (the framework's own ceiling), and a fresh worker
(new app id = new group, empty RocksDB dir, its own MongoDB database, so the live read model is
untouched) projecting them, until its group has committed the cut.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests
from pymongo import MongoClient

from bench.context import Bench
from bench.procs import run_generator
from bench.reads import wait_projected
from bench.seed import bulk_load
from bench.stats import spread
from compose.launcher import service_program, spawn, stop_spawned
from compose.polling import wait_until
from compose.supervisor import Program
from contracts import topics
from contracts.stores import READ_MODEL_PAGES

log = logging.getLogger("bench")


def first_events_cut(
    starts: Mapping[int, int], ends: Mapping[int, int], count: int
) -> dict[int, int]:
    """End offsets, per partition, of `count` events taken from the start of every partition.

    Each partition gives its share in proportion to what it holds (keys spread todos evenly);
    the rounding is settled so the cut holds exactly min(count, all events).
    """
    held = {p: max(0, ends[p] - starts.get(p, 0)) for p in ends}
    total = sum(held.values())
    if count >= total:
        return dict(ends)
    take = {p: (n * count) // total for p, n in held.items()}
    short = count - sum(take.values())
    # The largest remainders get the events rounding left over (one each).
    order = sorted(held, key=lambda p: ((held[p] * count) % total, -p), reverse=True)
    for p in order:
        if short == 0:
            break
        if take[p] < held[p]:
            take[p] += 1
            short -= 1
    return {p: starts.get(p, 0) + take[p] for p in ends}


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


def _committed_to(bench: Bench, group: str, cut: Mapping[int, int]) -> bool:
    """Whether `group` has committed every partition of the CDC topic up to `cut`."""
    try:
        committed = (
            bench.kafka.groups_on([topics.CHANGES], group).get(group, {}).get(topics.CHANGES, {})
        )
    except Exception:  # the group coordinator is busy (the worker is joining): read again
        return False
    return all(committed.get(partition, -1) >= end for partition, end in cut.items())


def _count_documents(client: MongoClient[dict[str, Any]], mongo_db: str) -> dict[str, int]:
    db = client[mongo_db]
    return {READ_MODEL_PAGES: db[READ_MODEL_PAGES].estimated_document_count()}


def _rebuild_once(bench: Bench, events: int, cut: Mapping[int, int]) -> dict[str, Any]:
    """Start a fresh worker (new app id, empty RocksDB dir, empty Mongo DB); time its rebuild."""
    tag = uuid.uuid4().hex[:8]
    app_id, mongo_db = f"bench-replay-{tag}", f"bench_replay_{tag}"
    data_dir = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    port = _free_port()
    client: MongoClient[dict[str, Any]] = MongoClient(bench.stack.mongo_url)
    log_path = data_dir / "worker.log"
    worker = _replay_worker(bench, app_id, mongo_db, data_dir, port)
    t0 = time.monotonic()
    proc = spawn(worker, log_path)
    # Timed from the moment the worker's web server answers (it starts just before the
    # consumer), so the figure is the projection's rate, not the process start-up, to the
    # moment its group has committed the cut (faust commits every few seconds, so the figure
    # is slightly low). Not by counting documents: on FerretDB a count scans the collection.
    t_first: float | None = None
    documents: dict[str, int] = {}
    done = False

    def caught_up() -> bool:
        nonlocal t_first
        if proc.poll() is not None:
            raise _WorkerExitedError(f"exit code {proc.returncode}")
        if t_first is None and _answers(f"http://127.0.0.1:{port}{bench.sizes.constant_path}"):
            t_first = time.monotonic()
        return _committed_to(bench, app_id, cut)

    try:
        with contextlib.suppress(TimeoutError, _WorkerExitedError):  # reported as incomplete
            done = wait_until(caught_up, timeout=bench.sizes.replay_timeout_s, interval=0.2,
                              what=f"replay worker {app_id} caught up")  # fmt: skip
        t_done = time.monotonic()
        documents = _count_documents(client, mongo_db)
    finally:
        stop_spawned(proc, timeout=30)
        client.drop_database(mongo_db)
        client.close()
        tail = log_path.read_text()[-2000:] if log_path.exists() else ""
        shutil.rmtree(data_dir, ignore_errors=True)
    streaming = t_done - (t_first or t0)
    return {
        "events": events,
        "documents": documents,
        "complete": done,
        "total_s": t_done - t0,
        "streaming_s": streaming,
        "events_per_s": events / streaming if done and streaming > 0 else None,
        "events_per_s_with_startup": events / (t_done - t0) if done else None,
        "worker_log_tail": None if done else tail,
        "command": " ".join(worker.command),
    }


def _fill_topic(bench: Bench, events: int) -> None:
    """Make sure the CDC topic holds at least `events` events (one per bulk-loaded todo)."""
    missing = events - bench.kafka.message_count(topics.CHANGES)
    if missing <= 0:
        return
    seeded = bulk_load(bench.stack.postgres.conninfo, missing, bench.user.user_id)
    log.info("replay: seeded %d todos for %d events", seeded.rows, events)
    wait_until(
        lambda: bench.kafka.message_count(topics.CHANGES) >= events,
        timeout=bench.sizes.replay_timeout_s,
        interval=1.0,
        what=f"{topics.CHANGES} holding {events} events",
    )
    wait_projected(bench, seeded.last_id, bench.sizes.replay_timeout_s)


def _baseline_runs(
    bench: Bench, generator: str, config: Callable[[], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run a baseline generator `runs` times over the same events (a fresh config each run)."""
    runs = []
    for _ in range(bench.sizes.runs):
        res, cpu = run_generator(generator, config(), timeout=bench.sizes.replay_timeout_s)
        res["generator_cpu"] = cpu
        runs.append(res)
    return runs


def _replay_size(bench: Bench, events: int) -> dict[str, Any]:
    sizes = bench.sizes
    _fill_topic(bench, events)
    bench.quiesce()
    starts = bench.kafka.start_offsets(topics.CHANGES)
    cut = first_events_cut(starts, bench.kafka.end_offsets(topics.CHANGES), events)
    taken = sum(cut[p] - starts.get(p, 0) for p in cut)
    span = {
        "bootstrap": bench.stack.kafka,
        "topic": topics.CHANGES,
        "starts": {str(p): o for p, o in starts.items()},
        "ends": {str(p): o for p, o in cut.items()},
    }
    raw_runs = _baseline_runs(bench, "consume", lambda: {**span, "partitions": sorted(cut)})
    bare_runs = _baseline_runs(
        bench, "faust_agent", lambda: {**span, "app_id": f"bench-bare-agent-{uuid.uuid4().hex[:8]}"}
    )
    rebuild_runs = []
    for run in range(sizes.runs):
        rebuilt = _rebuild_once(bench, taken, cut)
        log.info("replay %d events run=%d: %s events/s (complete=%s)", taken, run,
                 f"{rebuilt['events_per_s']:,.0f}" if rebuilt["events_per_s"] else "-",
                 rebuilt["complete"])  # fmt: skip
        rebuild_runs.append(rebuilt)
    raw = spread(r["events_per_s"] for r in raw_runs)
    bare = spread(r["events_per_s"] for r in bare_runs)
    rebuild = spread(r["events_per_s"] for r in rebuild_runs)
    return {
        "events": taken,
        "cut": {str(p): o for p, o in cut.items()},
        "raw_aiokafka": {"summary": {"events_per_s": raw}, "runs": raw_runs},
        "bare_faust_agent": {
            "summary": {"events_per_s": bare, "pct_of_raw": _pct(bare, raw)},
            "runs": bare_runs,
        },
        "rebuild": {
            "summary": {
                "events_per_s": rebuild,
                "events_per_s_with_startup": spread(
                    r["events_per_s_with_startup"] for r in rebuild_runs
                ),
                "pct_of_raw": _pct(rebuild, raw),
                "pct_of_bare_agent": _pct(rebuild, bare),
            },
            "runs": rebuild_runs,
        },
        "rebuild_command": rebuild_runs[0]["command"] if rebuild_runs else None,
    }


def _pct(part: Mapping[str, Any], whole: Mapping[str, Any]) -> float | None:
    """`part`'s median as a percentage of `whole`'s, or None when either is missing."""
    if not part.get("median") or not whole.get("median"):
        return None
    return 100.0 * float(part["median"]) / float(whole["median"])


def replay_path(bench: Bench) -> dict[str, Any]:
    """Rebuild the read model from offset 0 at each event count vs raw aiokafka consumption."""
    return {
        "by_events": {str(n): _replay_size(bench, n) for n in sorted(bench.sizes.replay_events)}
    }
