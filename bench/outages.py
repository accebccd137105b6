"""The outages path: stop a dependency under a low steady write load, then time the recovery.

For each fault and outage length: creates at `outage_rate`/s (refused ones retried after
Retry-After) before, during and after; the service(s) stopped with `IsolatedStack.stop`, started
again after the outage; then (a) the seconds from the return (every stopped service ready) to
the write API accepting again, (b) the seconds from the return to the read side caught up
(every accepted write in PostgreSQL, in MongoDB's read model and readable by id), and whether
any accepted write was lost or applied twice.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg
import requests
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from bench.context import Bench
from bench.gen.mixed import CONNECTION_FAILED, FAILURE_OUTCOMES, TIMED_OUT, generator_env
from bench.logscan import follow_logs
from bench.procs import BackgroundGenerator
from contracts.stores import READ_MODEL_PAGES, bucket_key, bucket_of, unpack_field

log = logging.getLogger("bench")

FAULTS: Mapping[str, tuple[str, ...]] = {
    "kafka": ("kafka",),
    "connect": ("connect",),
    "postgres": ("postgres",),
    "ferretdb": ("ferretdb",),
    "kafka+postgres": ("kafka", "postgres"),
}
# A write counts as held up by the outage when it became visible later than this after both
# its 202 and the return; below it is the pipeline's normal latency plus one polling interval.
LATE_S = 5.0
POLL_S = 1.0


def first_accept_s(accepts: Iterable[float], back_at: float) -> float | None:
    """Seconds from `back_at` to the first 202 after it (the write API accepting again, before
    the writes held up by the outage are worked off); None when none came."""
    first = min((t for t in accepts if t >= back_at), default=None)
    return None if first is None else round(first - back_at, 1)


def write_recovery_s(
    refusals: Iterable[float], accepts: Iterable[float], back_at: float
) -> float | None:
    """Seconds from `back_at` to the first 202 after which no write was refused again.

    0 when no write was refused after the return; None when none was accepted after the last
    refusal (the write API never recovered within the run).
    """
    last_refusal = max((t for t in refusals if t >= back_at), default=None)
    if last_refusal is None:
        return 0.0
    first_ok = min((t for t in accepts if t > last_refusal), default=None)
    return None if first_ok is None else round(first_ok - back_at, 1)


# The outcomes that may have waited long before they ended: when they were sent tells more.
SENT_FAILURES = (TIMED_OUT, CONNECTION_FAILED)


def outcome_timeline(
    accepts: Iterable[float],
    failures: Iterable[tuple[float, float, str]],
    back_at: float,
    step_s: float = 5.0,
    span_s: tuple[float, float] = (-10.0, 60.0),
) -> list[dict[str, float]]:
    """Writes answered in each `step_s` around the return, by outcome; a timeout or connection
    error is also counted by when it was sent (`sent_timeout`, `sent_connection_error`)."""
    first, last = span_s
    buckets = [
        dict.fromkeys(("202", *FAILURE_OUTCOMES, *(f"sent_{o}" for o in SENT_FAILURES)), 0.0)
        | {"from_s": first + k * step_s}
        for k in range(int((last - first) / step_s))
    ]

    def bucket(at: float) -> dict[str, float] | None:
        k = int((at - back_at - first) // step_s)
        return buckets[k] if 0 <= k < len(buckets) else None

    for at in accepts:
        if (found := bucket(at)) is not None:
            found["202"] += 1
    for sent, answered, outcome in failures:
        if (found := bucket(answered)) is not None:
            found[outcome] += 1
        if outcome in SENT_FAILURES and (found := bucket(sent)) is not None:
            found[f"sent_{outcome}"] += 1
    return buckets


def read_recovery_s(
    accepted: Mapping[int, float], visible: Mapping[int, float], back_at: float
) -> float | None:
    """Seconds from `back_at` until the last write held up by the outage became visible.

    A write is held up when it became visible more than LATE_S after both its 202 and the
    return. 0 when none was; None when some accepted write never became visible.
    """
    if any(todo_id not in visible for todo_id in accepted):
        return None
    late = [visible[i] for i, at in accepted.items() if visible[i] > max(at, back_at) + LATE_S]
    return round(max(late) - back_at, 1) if late else 0.0


def refusals_after_return_s(
    last_by_dependency: Mapping[str, float], back_at: float
) -> dict[str, float]:
    """Seconds from `back_at` to each dependency's last 503 (negative: before the return)."""
    return {name: round(at - back_at, 1) for name, at in sorted(last_by_dependency.items())}


def refused_by_text(counts: Mapping[str, int]) -> str:
    """`kafka 120, postgres 3`: 503s per dependency, most first; `-` when none."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} {count}" for name, count in ordered) or "-"


def last_refusal_text(after_return_s: Mapping[str, float]) -> str:
    """`kafka 49.6, postgres -2.0`: seconds from the return to each dependency's last 503."""
    return ", ".join(f"{name} {s:.1f}" for name, s in sorted(after_return_s.items())) or "-"


def failed_text(run: Mapping[str, Any]) -> str:
    """The writes answered with a status the generator does not retry, by status: '3 (401 3)'."""
    failed = run.get("failed_other_status", 0)
    others = {
        status: count
        for status, count in sorted(run.get("status_counts", {}).items())
        if status not in ("202", "503", "409", "-1")
    }
    shown = ", ".join(f"{status} {count}" for status, count in others.items())
    return f"{failed} ({shown})" if shown else str(failed)


def doubled(rows_by_title: Mapping[str, int], accepted_by_title: Mapping[str, int]) -> int:
    """Rows beyond one per scheduled write (a write applied twice, or retried after a lost 202)."""
    return sum(
        max(0, rows - 1) for title, rows in rows_by_title.items() if title in accepted_by_title
    )


@dataclass
class Convergence:
    """Follow the accepted writes' log; note when each is in PostgreSQL, MongoDB and readable."""

    bench: Bench
    accepted_log: Path
    accepted: dict[int, float] = field(default_factory=dict)
    titles: Counter[str] = field(default_factory=Counter)
    visible: dict[int, float] = field(default_factory=dict)
    _in_pg: set[int] = field(default_factory=set)
    _in_mongo: set[int] = field(default_factory=set)
    _offset: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Poll in a thread until stopped."""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def pending(self) -> int:
        """Accepted writes not yet visible everywhere."""
        return len(self.accepted) - len(self.visible)

    def _read_log(self) -> None:
        if not self.accepted_log.exists():
            return
        with self.accepted_log.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        complete, _, _ = data.rpartition(b"\n")
        self._offset += len(complete) + (1 if complete else 0)
        for line in complete.splitlines():
            entry = orjson.loads(line)
            self.accepted.setdefault(int(entry["id"]), float(entry["t"]))
            self.titles[entry["title"]] += 1

    def _run(self) -> None:
        stack = self.bench.stack
        owner = self.bench.user.user_id
        mongo: MongoClient[dict[str, Any]] = MongoClient(
            stack.mongo_url, serverSelectionTimeoutMS=2000, socketTimeoutMS=5000
        )
        pages = mongo[stack.mongo_db][READ_MODEL_PAGES]
        http = requests.Session()
        try:
            while not self._stop.is_set():
                self._read_log()
                try:
                    self._poll(pages, http, owner)
                except (PyMongoError, psycopg.Error, requests.RequestException) as exc:
                    # A store is down (the fault itself): poll again. Anything else is a bug.
                    log.debug("convergence poll failed: %s", exc)
                self._stop.wait(POLL_S)
        finally:
            mongo.close()
            http.close()

    def _poll(self, pages: Any, http: requests.Session, owner: int) -> None:
        stack = self.bench.stack
        waiting = [i for i in self.accepted if i not in self.visible]
        if not waiting:
            return
        missing_pg = [i for i in waiting if i not in self._in_pg]
        if missing_pg:
            with psycopg.connect(stack.postgres.conninfo, connect_timeout=3) as conn:
                rows = conn.execute(
                    "SELECT id FROM todos WHERE owner_id = %s AND id = ANY(%s)", (owner, missing_pg)
                ).fetchall()
            self._in_pg.update(int(r[0]) for r in rows)
        # Only what PostgreSQL holds can be projected yet. One equality on the string `_id` per
        # bucket: FerretDB pushes that down to its index, where an `$in` reads every page.
        missing_mongo = [i for i in waiting if i in self._in_pg and i not in self._in_mongo]
        for key in sorted({bucket_key(owner, bucket_of(i)) for i in missing_mongo}):
            document = pages.find_one({"_id": key})
            if document is not None:
                self._in_mongo.update(int(t["id"]) for t in unpack_field(document, "todos"))
        headers = self.bench.user.headers()
        for todo_id in waiting:
            if todo_id not in self._in_pg or todo_id not in self._in_mongo:
                continue
            url = f"{stack.read_url}/api/todos/{todo_id}/"
            if http.get(url, headers=headers, timeout=5).status_code == 200:
                self.visible[todo_id] = time.time()


def _pg_rows_by_title(bench: Bench, prefix: str) -> dict[str, int]:
    with psycopg.connect(bench.stack.postgres.conninfo) as conn:
        rows = conn.execute(
            "SELECT title, count(*) FROM todos WHERE owner_id = %s AND title LIKE %s"
            " GROUP BY title",
            (bench.user.user_id, prefix + "-%"),
        ).fetchall()
    return {str(title): int(count) for title, count in rows}


def _mongo_rows_by_title(bench: Bench, prefix: str) -> dict[str, int]:
    found: Counter[str] = Counter()
    client: MongoClient[dict[str, Any]] = MongoClient(bench.stack.mongo_url)
    try:
        pages = client[bench.stack.mongo_db][READ_MODEL_PAGES]
        for document in pages.find({"_id": {"$regex": f"^{bench.user.user_id}:"}}):
            for todo in unpack_field(document, "todos"):
                if str(todo.get("title", "")).startswith(prefix + "-"):
                    found[todo["title"]] += 1
    finally:
        client.close()
    return dict(found)


def outage_run(bench: Bench, fault: str, outage_s: float) -> dict[str, Any]:
    """One outage of `fault` lasting `outage_s` under the steady write load."""
    sizes = bench.sizes
    isolated = bench.isolated
    if isolated is None:
        raise RuntimeError("the outages path stops services: run it on an isolated stack")
    services = FAULTS[fault]
    bench.quiesce()
    prefix = f"outage-{fault}-{int(outage_s)}-{int(time.time())}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-outage-"))
    accepted_log, stop_file = workdir / "accepted.jsonl", workdir / "stop"
    followers = follow_logs(bench.stack.state_dir / "logs")
    user = bench.user
    env = generator_env(user)
    retry_for_s = outage_s + sizes.outage_converge_timeout_s
    generator = BackgroundGenerator(
        "mixed",
        {
            "write_url": f"{bench.stack.write_url}/api/todos",
            "read_url": bench.stack.read_url,
            "rate": sizes.outage_rate,
            "mix": [1, 0, 0],
            "read_rate": 0,
            "duration_s": 24 * 3600,
            "stop_file": str(stop_file),
            "accepted_log": str(accepted_log),
            "retry_for_s": retry_for_s,
            "keep_times": True,
            "idempotency_keys": True,
            "title_prefix": prefix,
            # A hung request must end well within the outage so it is retried, not waited on.
            "request_timeout_s": 15,
        },
        env=env,
    )
    tracker = Convergence(bench, accepted_log)
    tracker.start()
    try:
        time.sleep(sizes.outage_before_s)
        stopped_at = time.time()
        for name in services:
            isolated.stop(name)
        all_stopped_at = time.time()
        time.sleep(max(0.0, outage_s - (all_stopped_at - stopped_at)))
        start_called_at = time.time()
        for name in services:
            isolated.start(name)
        back_at = time.time()
        log.info(
            "outage %s %ss: stopped %.1f s, ready %.1f s after start was called",
            fault, outage_s, start_called_at - stopped_at, back_at - start_called_at,
        )  # fmt: skip
        time.sleep(sizes.outage_after_s)
    except BaseException:
        # Bring the stack back for the next path; the run's own failure is what gets reported.
        stop_file.touch()
        try:
            isolated.restore()
        except Exception:
            log.exception("restoring the stack after a failed outage run failed too")
        raise
    # Not restore(): it waits for the connector to be RUNNING within 120 s, which a Connect
    # waiting out its rebalance delay is not; the measurement below is what times that.
    stop_file.touch()
    load, cpu = generator.finish(timeout=retry_for_s + 120)
    deadline = back_at + sizes.outage_converge_timeout_s
    while time.time() < deadline and (
        tracker.pending() > 0 or len(tracker.accepted) < load["accepted"]
    ):
        time.sleep(POLL_S)
    tracker.stop()
    pg_rows = _pg_rows_by_title(bench, prefix)
    mongo_rows = _mongo_rows_by_title(bench, prefix)
    lost = sorted(i for i in tracker.accepted if i not in tracker.visible)
    errors = {n: f.poll() for n, f in followers.items()}
    result = {
        "fault": fault,
        "services": list(services),
        "outage_s": outage_s,
        "stopped_for_s": round(start_called_at - stopped_at, 1),
        "start_to_ready_s": round(back_at - start_called_at, 1),
        "writes_accepted": load["accepted"],
        "writes_refused_503": load["refused_503"],
        "refused_by_dependency": load["refused_by_dependency"],
        "last_refusal_after_return_s": refusals_after_return_s(
            load["last_refusal_by_dependency"], back_at
        ),
        "connection_errors": load["connection_errors"] + load["timeouts"],
        "given_up": load["given_up"],
        "failed_other_status": load["failed_other_status"],
        "status_counts": load.get("status_counts", {}),
        "first_accept_s": first_accept_s(load["accept_times"], back_at),
        "recovery_writes_s": write_recovery_s(load["refusal_times"], load["accept_times"], back_at),
        "timeline": outcome_timeline(load["accept_times"], load.get("failures", []), back_at),
        "recovery_read_s": read_recovery_s(tracker.accepted, tracker.visible, back_at),
        "last_visible_after_return_s": round(max(tracker.visible.values()) - back_at, 1)
        if tracker.visible
        else None,
        "lost": len(lost),
        "lost_ids": lost[:20],
        "doubled_pg": doubled(pg_rows, tracker.titles),
        "doubled_mongo": doubled(mongo_rows, tracker.titles),
        "accepted_twice": sum(c - 1 for c in tracker.titles.values() if c > 1),
        "error_lines": errors,
        "error_examples": {n: f.examples for n, f in followers.items() if f.examples},
        "generator_cpu": cpu,
    }
    log.info("outage %s %ss: writes back after %s s, read side after %s s, lost %d, doubled %d",
             fault, outage_s, result["recovery_writes_s"], result["recovery_read_s"],
             result["lost"], result["doubled_pg"])  # fmt: skip
    return result


def outage_plan(faults: Iterable[str], lengths: Iterable[int]) -> list[tuple[str, float]]:
    """(fault, seconds) to run: each fault at each length, or at its own for `name:seconds`."""
    lengths = list(lengths)
    plan: list[tuple[str, float]] = []
    for spec in faults:
        name, _, own = spec.partition(":")
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; choose from {', '.join(FAULTS)}")
        plan.extend((name, float(s)) for s in ([own] if own else lengths))
    return plan


def outages_path(bench: Bench) -> dict[str, Any]:
    """Every selected fault at every selected outage length, one after another."""
    sizes = bench.sizes
    plan = outage_plan(sizes.outage_faults, sizes.outage_seconds)
    runs = []
    for fault, seconds in plan:
        try:
            runs.append(outage_run(bench, fault, seconds))
        finally:
            # The admin client lived through the outage; the next run's quiesce gets a new one.
            bench.renew_kafka()
    return {"rate": sizes.outage_rate, "late_s": LATE_S, "runs": runs}


def outages_table(result: dict[str, Any]) -> str:
    """The outages' figures as Markdown, one row per fault and length."""
    lines = [
        f"outages: creates at {result.get('rate')}/s, 503s retried after Retry-After;"
        " recovery counted from every stopped service ready again; last 503 in s after the return"
        " (negative: before it); first 202: the write API accepting again; recovery (writes):"
        " until the writes the outage held up stop being refused or timing out",
        "",
        "| fault | outage s | writes accepted | refused (503 / errors) | refused by | last 503 s"
        " | failed (other status) | first 202 s | recovery s (writes) | recovery s (read side)"
        " | lost | doubled | worker ERROR lines | all ERROR lines |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in result.get("runs", []):
        errors = run["error_lines"]

        def shown(value: float | None) -> str:
            return "never" if value is None else f"{value:.1f}"

        # A results file saved without the refusal figures shows `-` in their columns.
        lines.append(
            f"| {run['fault']} | {run['outage_s']:.0f} | {run['writes_accepted']}"
            f" | {run['writes_refused_503']} / {run['connection_errors']}"
            f" | {refused_by_text(run.get('refused_by_dependency', {}))}"
            f" | {last_refusal_text(run.get('last_refusal_after_return_s', {}))}"
            f" | {failed_text(run)}"
            f" | {shown(run['first_accept_s']) if 'first_accept_s' in run else '-'}"
            f" | {shown(run['recovery_writes_s'])} | {shown(run['recovery_read_s'])}"
            f" | {run['lost']} | {max(run['doubled_pg'], run['doubled_mongo'])}"
            f" | {errors.get('streams', 0)} | {sum(errors.values())} |"
        )
    return "\n".join(lines)
