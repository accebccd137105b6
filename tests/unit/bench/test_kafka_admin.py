"""The bench's Kafka admin client: every call bounded, a fresh client after each outage run."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest

from bench import kafka_tools
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
