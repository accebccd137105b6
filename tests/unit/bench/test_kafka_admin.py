"""The bench's Kafka admin client: every call bounded, a fresh client after each outage run."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from bench import kafka_tools, outages
from bench.context import Bench
from bench.kafka_tools import ADMIN_TIMEOUT_S, FUTURE_MARGIN_S, Kafka
from contracts import topics


class BoundedFuture(Future):
    """A future that fails the test when waited on without a timeout."""

    def result(self, timeout: float | None = None) -> Any:
        assert timeout is not None and timeout <= ADMIN_TIMEOUT_S + FUTURE_MARGIN_S, timeout
        return super().result(timeout)


def done(value: Any) -> BoundedFuture:
    future = BoundedFuture()
    future.set_result(value)
    return future


class FakeAdmin:
    """An AdminClient's calls the lag reading makes, each noting the timeout it was given."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self.timeouts: list[tuple[str, float | None]] = []

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        self.timeouts.append(("list_topics", None if timeout == -1 else timeout))
        meta = SimpleNamespace(partitions={0: None, 1: None}, error=None)
        return SimpleNamespace(topics={topic: meta})

    def list_offsets(self, request: dict[Any, Any], request_timeout: float | None = None) -> Any:
        self.timeouts.append(("list_offsets", request_timeout))
        return {tp: done(SimpleNamespace(offset=10)) for tp in request}

    def list_consumer_groups(self, request_timeout: float | None = None) -> Any:
        self.timeouts.append(("list_consumer_groups", request_timeout))
        return done(SimpleNamespace(valid=[SimpleNamespace(group_id="todo-eda-streams")]))

    def list_consumer_group_offsets(
        self, request: list[Any], request_timeout: float | None = None
    ) -> Any:
        self.timeouts.append(("list_consumer_group_offsets", request_timeout))
        parts = [
            SimpleNamespace(topic=t, partition=p, offset=4) for t in topics.PIPELINE for p in (0, 1)
        ]
        return {request[0].group_id: done(SimpleNamespace(topic_partitions=parts))}


@pytest.fixture
def kafka(monkeypatch: pytest.MonkeyPatch) -> Kafka:
    monkeypatch.setattr(kafka_tools, "AdminClient", FakeAdmin)
    return Kafka("127.0.0.1:9")


@pytest.mark.parametrize("group", [None, "todo-eda-streams"], ids=["every-group", "one-group"])
def test_every_admin_call_of_a_lag_reading_has_a_bounded_timeout(kafka, group):
    # 2 partitions per topic at offset 10, the group committed 4 on each.
    assert kafka.lag(topics.PIPELINE, group) == dict.fromkeys(topics.PIPELINE, 12)
    admin = kafka.admin
    called = {name for name, _ in admin.timeouts}
    assert {"list_topics", "list_offsets", "list_consumer_group_offsets"} <= called
    assert ("list_consumer_groups" in called) == (group is None)
    for name, timeout in admin.timeouts:
        assert timeout is not None and 0 < timeout <= ADMIN_TIMEOUT_S, name


@dataclass
class FakeBench:
    """What outages_path touches: the sizes and the admin client it renews."""

    sizes: Any
    kafka: object = field(default_factory=object)
    events: list[str] = field(default_factory=list)

    def renew_kafka(self) -> None:
        self.events.append("renew")
        self.kafka = object()


def fake_bench() -> FakeBench:
    sizes = SimpleNamespace(
        outage_faults=("kafka:60", "postgres:30"), outage_seconds=(), outage_rate=5
    )
    return FakeBench(sizes)


def test_the_outages_path_asks_for_a_fresh_admin_client_after_each_run(monkeypatch):
    bench = fake_bench()
    clients: list[object] = []

    def run(bench: FakeBench, fault: str, seconds: float) -> dict[str, Any]:
        clients.append(bench.kafka)
        bench.events.append(f"run {fault}")
        return {"fault": fault}

    monkeypatch.setattr(outages, "outage_run", run)
    result = outages.outages_path(bench)
    assert [r["fault"] for r in result["runs"]] == ["kafka", "postgres"]
    assert bench.events == ["run kafka", "renew", "run postgres", "renew"]
    assert len({id(c) for c in [*clients, bench.kafka]}) == 3


def test_a_failed_outage_run_still_leaves_a_fresh_admin_client(monkeypatch):
    bench = fake_bench()

    def run(bench: FakeBench, fault: str, seconds: float) -> dict[str, Any]:
        raise RuntimeError("the stack did not come back")

    monkeypatch.setattr(outages, "outage_run", run)
    with pytest.raises(RuntimeError):
        outages.outages_path(bench)
    assert bench.events == ["renew"]


def test_renewing_replaces_the_bench_kafka_client(monkeypatch):
    monkeypatch.setattr(kafka_tools, "AdminClient", FakeAdmin)
    bench = Bench.__new__(Bench)
    bench.stack = SimpleNamespace(kafka="127.0.0.1:9")
    bench.kafka = old = Kafka("127.0.0.1:9")
    bench.renew_kafka()
    assert isinstance(bench.kafka, Kafka) and bench.kafka is not old
    assert bench.kafka.admin is not old.admin
    assert bench.kafka.bootstrap == "127.0.0.1:9"
