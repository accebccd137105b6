"""Slow and resetting connections between the worker and its dependencies, through Toxiproxy.

With 200 ms added to every exchange with MongoDB or PostgreSQL, or what the worker sends to
either squeezed through a thin link, the pipeline keeps up with 50 creates/s: every write is
readable soon after the last one, the group's lag stays bounded, and the worker logs no
timeout and dead-letters nothing. With the connections to PostgreSQL,
MongoDB and Kafka reset every few seconds while creating and updating, nothing is lost or
applied twice. The figures are printed (run with -s) and kept in docs/decisions/fault-proxy.md.
"""

from __future__ import annotations

import re
import sched
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient

from compose.launcher import IsolatedStack
from compose.pipeline_status import kafka_status
from contracts.records import Position
from contracts.stores import unpack
from contracts.topics import CHANGES_DLQ, COMMANDS_DLQ
from streams.settings import DEFAULT_APP_ID
from tests.integration.faults.conftest import ProxiedWorker, Proxies
from tests.support.pipeline import Pipeline
from tests.support.polling import ConditionTimeout, wait_for
from tests.support.toxiproxy import Proxy, Toxic, bandwidth, latency, reset_peer

RATE = 50  # writes/s
SECONDS = 30
LATENCY_MS = 200
# The thin link: what the worker sends to the store, in KB/s. A page write carries the whole
# bucket page (up to 128 todos, ~20 KB here), so MongoDB's link holds about two a second.
BANDWIDTH_KB_S = {"mongo": 32, "postgres": 32}
# Sent through the proxy to see the limit in effect: at the rates above it takes 2 s.
PROBE_BYTES = 64_000
# Generous bounds, only to catch a worker that falls behind for good: 15 s of records in the
# group's lag (each create is a command on `todos` and a change on the CDC topic, and offsets
# are committed every few seconds), and 60 s from the last write until all are readable.
LAG_BOUND = 2 * RATE * 15
CATCH_UP_BOUND = 60.0
# The reset test: slower writes (each todo is created, then updated once), a fault every
# RESET_EVERY seconds on one proxy after the other, each lasting FAULT_SECONDS.
RESET_RATE = 20
RESET_SECONDS = 20
RESET_EVERY = 3.0
FAULT_SECONDS = 0.5
SETTLE_TIMEOUT = 120.0
# What a cascade of timeouts leaves in the worker's log.
TIMEOUT_LINES = re.compile(r"timed? ?out|Timeout", re.IGNORECASE)

pytestmark = pytest.mark.disruptive(stops="streams")


@dataclass
class Run:
    """What a paced run of writes saw."""

    accepted: dict[int, Any] = field(default_factory=dict)  # todo id -> the 202's body
    refused: list[str] = field(default_factory=list)
    lags: list[int] = field(default_factory=list)
    last_accepted_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Writer:
    """One user's writes from many threads, each thread with its own HTTP session."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.local = threading.local()

    def session(self) -> requests.Session:
        """This thread's session, signed in as the user."""
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.auth = self.pipeline.auth
        session: requests.Session = self.local.session
        return session

    def send(self, run: Run, method: str, path: str, body: dict[str, Any]) -> None:
        """One write; a 202 is recorded as accepted with its todo id."""
        url = f"{self.pipeline.cud_url}{path}"
        response = self.session().request(method, url, json=body, timeout=10)
        with run.lock:
            if response.status_code != 202:
                run.refused.append(f"{method} {path}: {response.status_code} {response.text}")
                return
            data = response.json()["data"]
            run.accepted[int(data["id"])] = data
            run.last_accepted_at = time.monotonic()


def group_lag(stack: IsolatedStack) -> int | None:
    """The worker's consumer group's lag over every topic, from the stack's own broker."""
    status = kafka_status(stack.addresses.kafka)
    totals = [g.total for g in status.groups if g.group == DEFAULT_APP_ID and g.error is None]
    return totals[0] if totals else None


def paced(
    rate: float,
    seconds: float,
    write: Callable[[int], None],
    every_second: Callable[[], None] | None = None,
) -> None:
    """Run `write(n)` `rate` times a second for `seconds`, and `every_second` once a second."""
    # Paced by the standard library's event scheduler: calls at absolute times, none blocking
    # the next (each runs on the pool).
    scheduler = sched.scheduler(time.monotonic, time.sleep)
    futures: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=32) as pool:
        start = time.monotonic()
        for n in range(int(rate * seconds)):
            scheduler.enterabs(
                start + n / rate, 1, lambda n=n: futures.append(pool.submit(write, n))
            )
        if every_second is not None:
            sample = every_second
            for second in range(int(seconds)):
                scheduler.enterabs(start + second, 2, lambda: futures.append(pool.submit(sample)))
        scheduler.run()
        for future in futures:
            future.result()


def store_writes(pipeline: Pipeline, store: str) -> tuple[float, float]:
    """The worker's batch writes to `store` so far: (seconds spent, writes), from its /metrics."""
    response = requests.get(f"{pipeline.read_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    found = {"_sum": 0.0, "_count": 0.0}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            suffix = sample.name.removeprefix("todo_eda_store_write_seconds")
            if suffix in found and sample.labels.get("store") == store:
                found[suffix] = sample.value
    return found["_sum"], found["_count"]


def dead_letters(pipeline: Pipeline) -> int:
    """How many records both dead-letter topics hold."""
    return len(pipeline.records(COMMANDS_DLQ)) + len(pipeline.records(CHANGES_DLQ))


def owner_rows(pipeline: Pipeline) -> dict[int, int]:
    """This user's todos in PostgreSQL: id -> version."""
    with pipeline.pg() as conn:
        query = "SELECT id, version FROM todos WHERE owner_id = %s"
        return dict(conn.execute(query, (pipeline.owner_id,)).fetchall())


def owner_documents(pipeline: Pipeline) -> dict[int, int]:
    """This user's live todos in MongoDB's buckets: id -> the version of the change projected."""
    found: dict[int, int] = {}
    for _, bucket in pipeline.mongo_buckets():
        if bucket.get("owner_id") != pipeline.owner_id:
            continue
        positions = unpack(bucket["positions"])
        for todo in unpack(bucket["todos"]):
            assert todo["id"] not in found, f"todo {todo['id']} in two buckets"
            found[todo["id"]] = Position.from_key(positions[str(todo["id"])]).version
    return found


@pytest.fixture
def writer(pipeline: Pipeline) -> Iterator[Writer]:
    """A fresh user's writer, so the checks count this test's todos only."""
    user = pipeline.as_user()
    yield Writer(user)
    user.close()


def creates_under(
    stack: IsolatedStack, writer: Writer, proxy: Proxy | None, toxic: Toxic | None = None
) -> tuple[Run, float, float | None]:
    """RATE creates/s for SECONDS with `toxic` on `proxy` (if any).

    Returns the run, its catch-up (from the last accepted create until all are readable) and
    the mean time of the worker's batch writes to that proxy's store in the run (None
    without a proxy).
    """
    run = Run()
    store = {"mongo": "mongodb", "postgres": "postgresql"}.get(proxy.name) if proxy else None
    before = store_writes(writer.pipeline, store) if store else (0.0, 0.0)

    def sample() -> None:
        lag = group_lag(stack)
        if lag is not None:
            with run.lock:
                run.lags.append(lag)

    def create(n: int) -> None:
        writer.send(run, "POST", "/api/todos/", {"title": f"slow {n}"})

    poisoned = proxy.toxic(toxic) if proxy is not None and toxic is not None else nullcontext()
    with poisoned:
        paced(RATE, SECONDS, create, sample)
        assert not run.refused, run.refused[:5]
        ids = set(run.accepted)
        wait_for(
            lambda: ids <= {t["id"] for t in writer.pipeline.list_all()},
            timeout=CATCH_UP_BOUND,
            interval=0.5,
            message="every create readable",
        )
        catch_up = time.monotonic() - run.last_accepted_at
    if not store:
        return run, catch_up, None
    spent, writes = (
        a - b for a, b in zip(store_writes(writer.pipeline, store), before, strict=True)
    )
    assert writes > 0, f"no {store} write seen on the worker's /metrics"
    print(f"\n{store}: {writes:.0f} batch writes, {spent / writes * 1000:.0f} ms each on average")
    return run, catch_up, spent / writes


def creates_slowed(stack: IsolatedStack, writer: Writer, proxy: Proxy) -> tuple[Run, float]:
    """RATE creates/s for SECONDS with LATENCY_MS on every answer through `proxy`.

    Also checks the toxic took effect: the worker's batch writes to that store took at least
    LATENCY_MS each on average (each is one round trip or more).
    """
    # Downstream only: every answer comes LATENCY_MS late, so each round trip is that slower.
    run, catch_up, mean_write_s = creates_under(stack, writer, proxy, latency(LATENCY_MS))
    assert mean_write_s is not None and mean_write_s >= LATENCY_MS / 1000, (
        f"{proxy.name} writes not slowed by the toxic"
    )
    return run, catch_up


def upload_seconds(proxy: Proxy, stack: IsolatedStack) -> float:
    """How long PROBE_BYTES sent to the proxy's store take to be answered, through the proxy."""
    payload = "x" * PROBE_BYTES
    started = time.monotonic()
    if proxy.name == "mongo":
        client: MongoClient[dict[str, Any]] = MongoClient(
            f"mongodb://{proxy.listen}/?directConnection=true", serverSelectionTimeoutMS=10_000
        )
        try:
            # A string _id equality: FerretDB answers it from its index, here with nothing.
            client["bandwidth_probe"]["probe"].find_one({"_id": payload})
        finally:
            client.close()
    else:
        conninfo = psycopg.conninfo.make_conninfo(
            stack.addresses.postgres.conninfo, host="127.0.0.1", port=proxy.port
        )
        with psycopg.connect(conninfo, connect_timeout=10) as conn:
            conn.execute("SELECT length(%s)", (payload,)).fetchone()
    return time.monotonic() - started


def creates_squeezed(stack: IsolatedStack, writer: Writer, proxy: Proxy) -> tuple[Run, float]:
    """RATE creates/s for SECONDS with what is sent to `proxy`'s store limited in bandwidth.

    Also checks the limit took effect: PROBE_BYTES sent through the proxy during the run took
    at least three quarters of the time the limit allows them.
    """
    rate = BANDWIDTH_KB_S[proxy.name]
    with proxy.toxic(bandwidth(rate, stream="upstream")):
        took = upload_seconds(proxy, stack)
        run, catch_up, _ = creates_under(stack, writer, proxy)
    least = 0.75 * PROBE_BYTES / (rate * 1000)
    print(f"\n{PROBE_BYTES} bytes to {proxy.name} at {rate} KB/s: {took:.1f} s")
    assert took >= least, f"{proxy.name}'s link not limited: {took:.2f} s < {least:.2f} s"
    return run, catch_up


def assert_kept_up(
    run: Run, catch_up: float, worker: ProxiedWorker, dlq_before: int, pipeline: Pipeline, what: str
) -> None:
    """Every create stored once, lag bounded, no timeout logged, nothing dead-lettered."""
    assert len(run.accepted) == RATE * SECONDS
    rows = owner_rows(pipeline)
    assert set(rows) == set(run.accepted) and set(rows.values()) == {1}
    assert run.lags, "the group's lag was never read"
    print(
        f"\n{what}: {len(run.accepted)} creates at {RATE}/s; group lag max {max(run.lags)},"
        f" mean {sum(run.lags) / len(run.lags):.0f}, last {run.lags[-1]};"
        f" every create readable {catch_up:.1f}s after the last one; lag every 5 s {run.lags[::5]}"
    )
    assert max(run.lags) < LAG_BOUND
    timeouts = [line for line in worker.log().splitlines() if TIMEOUT_LINES.search(line)]
    assert not timeouts, timeouts[:5]
    assert "dead-lettering" not in worker.log()
    assert dead_letters(pipeline) == dlq_before


def test_through_the_proxies_alone_it_keeps_up_at_50_writes_per_second(
    stack, pipeline, toxiproxy: Proxies, proxied_worker: ProxiedWorker, writer: Writer
):
    # The baseline of the two below: the same load through the proxies without a toxic.
    dlq_before = dead_letters(pipeline)
    run, catch_up, _ = creates_under(stack, writer, None)
    assert_kept_up(run, catch_up, proxied_worker, dlq_before, writer.pipeline, "no toxic")


def test_200ms_on_mongodb_keeps_up_at_50_writes_per_second(
    stack, pipeline, toxiproxy: Proxies, proxied_worker: ProxiedWorker, writer: Writer
):
    dlq_before = dead_letters(pipeline)
    run, catch_up = creates_slowed(stack, writer, toxiproxy.mongo)
    assert_kept_up(run, catch_up, proxied_worker, dlq_before, writer.pipeline, "200 ms MongoDB")


def test_200ms_on_postgresql_keeps_up_at_50_writes_per_second(
    stack, pipeline, toxiproxy: Proxies, proxied_worker: ProxiedWorker, writer: Writer
):
    dlq_before = dead_letters(pipeline)
    run, catch_up = creates_slowed(stack, writer, toxiproxy.postgres)
    assert_kept_up(run, catch_up, proxied_worker, dlq_before, writer.pipeline, "200 ms PostgreSQL")


@pytest.mark.parametrize("store", ["mongo", "postgres"])
def test_a_thin_link_to_the_store_keeps_up_at_50_writes_per_second(
    store: str, stack, pipeline, toxiproxy: Proxies, proxied_worker: ProxiedWorker, writer: Writer
):
    dlq_before = dead_letters(pipeline)
    run, catch_up = creates_squeezed(stack, writer, getattr(toxiproxy, store))
    what = f"{BANDWIDTH_KB_S[store]} KB/s to {store}"
    assert_kept_up(run, catch_up, proxied_worker, dlq_before, writer.pipeline, what)


def differences(found: dict[int, int], expected: dict[int, int]) -> str:
    """How `found` (id -> version) differs from `expected`, in a few words."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    versions = Counter(v for i, v in found.items() if i in expected)
    return f"missing {len(missing)} {missing[:5]}, extra {len(extra)}, versions {dict(versions)}"


@contextmanager
def faults_every(proxies: Proxies, seconds: float) -> Iterator[list[str]]:
    """Cut one proxy's connections after the other's every RESET_EVERY s while the block runs."""
    # Alternately a disabled proxy (open connections closed, new ones refused) and a reset_peer
    # toxic (every connection reset by a TCP RST), each for FAULT_SECONDS, in a thread.
    done = threading.Event()
    seen: list[str] = []

    def cycle() -> None:
        for n in range(int(seconds / RESET_EVERY) + 1):
            if done.wait(RESET_EVERY):
                return
            proxy = proxies.all()[n % 3]
            if n % 2 == 0:
                proxy.set_enabled(False)
                done.wait(FAULT_SECONDS)
                proxy.set_enabled(True)
                seen.append(f"{proxy.name} disabled")
            else:
                with proxy.toxic(reset_peer()):
                    done.wait(FAULT_SECONDS)
                seen.append(f"{proxy.name} reset")

    thread = threading.Thread(target=cycle, name="faults", daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        done.set()
        thread.join(timeout=30)
        proxies.server.reset()


def test_connections_reset_every_few_seconds_lose_and_double_nothing(
    stack, pipeline, toxiproxy: Proxies, proxied_worker: ProxiedWorker, writer: Writer
):
    user = writer.pipeline
    created, updated = Run(), Run()
    with faults_every(toxiproxy, 2 * RESET_SECONDS + SETTLE_TIMEOUT) as seen:
        paced(
            RESET_RATE,
            RESET_SECONDS,
            lambda n: writer.send(created, "POST", "/api/todos/", {"title": f"reset {n}"}),
        )
        assert not created.refused, created.refused[:5]
        ids = sorted(created.accepted)
        wait_for(
            lambda: set(owner_rows(user)) == set(ids),
            timeout=SETTLE_TIMEOUT,
            interval=0.5,
            message="every create in PostgreSQL",
        )
        paced(
            RESET_RATE,
            RESET_SECONDS,
            lambda n: writer.send(updated, "PATCH", f"/api/todos/{ids[n]}/", {"title": f"r{n}"}),
        )
        assert not updated.refused, updated.refused[:5]
        faults = list(seen)
    expected = {todo_id: 2 for todo_id in ids}  # created, then updated once
    assert len(ids) == RESET_RATE * RESET_SECONDS and set(updated.accepted) == set(ids)
    try:
        wait_for(
            lambda: owner_rows(user) == expected and owner_documents(user) == expected,
            timeout=SETTLE_TIMEOUT,
            interval=0.5,
            message="every todo at version 2 in PostgreSQL and MongoDB",
        )
    except ConditionTimeout:
        pytest.fail(
            f"not every todo at version 2 after {SETTLE_TIMEOUT:.0f}s through {faults}:"
            f" PostgreSQL {differences(owner_rows(user), expected)},"
            f" MongoDB {differences(owner_documents(user), expected)},"
            f" the group's lag {group_lag(stack)}"
        )
    print(f"\nresets: {len(ids)} creates + {len(ids)} updates through {len(faults)} faults")
    assert {f.split()[0] for f in faults} == {"postgres", "mongo", "kafka"}, faults
    listed = {t["id"]: t for t in user.list_all()}
    assert set(listed) == set(ids)
    assert all(listed[i]["title"] == f"r{n}" for n, i in enumerate(ids))
