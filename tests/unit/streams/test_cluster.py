"""The cluster as the topic browser sees it: topic settings and consumer groups, over fakes."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from streams.monitoring import cluster as cluster_module
from streams.monitoring.cluster import ClusterUnavailableError, ClusterView, GroupPartition

PARTITIONS = {"todos": {0, 1}, "todos.dlq": {0, 1}, "connect-offsets": {0}}
ENDS = {
    TopicPartition("todos", 0): 12,
    TopicPartition("todos", 1): 9,
    TopicPartition("todos.dlq", 0): 1,
    TopicPartition("todos.dlq", 1): 0,
    TopicPartition("connect-offsets", 0): 4,
}


class FakeConsumer:
    """The group-less consumer's offsets."""

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[Any, int]:
        return dict.fromkeys(partitions, 0)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[Any, int]:
        return {tp: ENDS[tp] for tp in partitions}


def _entry(name: str, value: str | None) -> tuple[Any, ...]:
    # (name, value, read_only, config_source, is_sensitive, synonyms): v1's shape.
    return (name, value, False, 5, False, [])


class FakeAdmin:
    """Answers shaped as aiokafka's admin client returns the brokers' responses."""

    def __init__(self) -> None:
        self.described_configs: list[Any] = []
        self.down = False
        self._client = self  # the admin's connection to the brokers

    async def describe_topics(self, topics: list[str] | None = None) -> list[dict[str, Any]]:
        assert topics is None  # naming a topic could have the broker create it
        described = [
            {
                "error_code": 0,
                "topic": name,
                "is_internal": False,
                "partitions": [{"error_code": 0, "partition": p} for p in sorted(found)],
            }
            for name, found in PARTITIONS.items()
        ]
        offsets = {"error_code": 0, "topic": "__consumer_offsets", "is_internal": True}
        return [*described, {**offsets, "partitions": [{"error_code": 0, "partition": 0}]}]

    async def describe_configs(self, resources: list[Any]) -> list[Any]:
        if self.down:
            raise KafkaConnectionError("down")
        self.described_configs = resources
        found: list[tuple[Any, ...]] = []
        for resource in resources:
            if resource.name == "todos.dlq":  # as if deleted meanwhile
                found.append((3, "unknown topic", 2, resource.name, []))
                continue
            entries = [
                _entry("retention.ms", "604800000"),
                _entry("cleanup.policy", "compact" if "connect" in resource.name else "delete"),
                _entry("retention.bytes", "-1"),
            ]
            found.append((0, None, 2, resource.name, entries))
        return [SimpleNamespace(throttle_time_ms=0, resources=found)]

    async def list_consumer_groups(self) -> list[tuple[str, str]]:
        if self.down:
            raise KafkaConnectionError("down")
        return [("todo-eda-streams", "consumer"), ("connect-cluster", "connect")]

    async def find_coordinator(self, group: str) -> int:
        return 1

    async def send(self, node: int, request: Any) -> Any:
        # The broker offers DescribeGroups v0 to v5: the request must go as v2 at most.
        assert request.prepare({15: (0, 5)}).API_VERSION == 2
        members = [("m-1", "c-1", "/127.0.0.1", b"", b""), ("m-2", "c-2", "/127.0.0.1", b"", b"")]
        groups = [
            (0, "todo-eda-streams", "Stable", "consumer", "faust", members),
            (16, "connect-cluster", "", "", "", []),  # an error: not described
        ]
        return SimpleNamespace(groups=[g for g in groups if g[1] in request._groups])

    async def list_consumer_group_offsets(
        self, group: str, partitions: list[TopicPartition] | None = None
    ) -> dict[TopicPartition, Any]:
        committed = {
            "todo-eda-streams": {TopicPartition("todos", 0): 12, TopicPartition("todos", 1): 5},
        }.get(group, {})
        if partitions is not None:
            committed = {tp: committed.get(tp, -1) for tp in partitions}
        wanted = committed
        return {tp: SimpleNamespace(offset=offset, metadata="") for tp, offset in wanted.items()}


@pytest.fixture
def view() -> tuple[ClusterView, FakeAdmin]:
    """A ClusterView whose clients are already the fakes."""
    found = ClusterView("localhost:1", "test")
    admin = FakeAdmin()
    found._admin, found._consumer = admin, FakeConsumer()
    return found, admin


async def test_every_topic_but_kafkas_own_is_listed_with_its_partitions(view):
    cluster, _ = view
    assert await cluster.topic_partitions() == [
        TopicPartition("connect-offsets", 0),
        TopicPartition("todos", 0),
        TopicPartition("todos", 1),
        TopicPartition("todos.dlq", 0),
        TopicPartition("todos.dlq", 1),
    ]
    assert await cluster.topic_partitions(["todos.dlq", "nothing"]) == [
        TopicPartition("todos.dlq", 0),
        TopicPartition("todos.dlq", 1),
    ]


async def test_each_topic_has_its_retention_and_cleanup_policy(view):
    cluster, admin = view
    settings = await cluster.topic_settings(["todos", "connect-offsets", "todos"])
    assert settings == {
        "connect-offsets": {
            "retention.ms": "604800000",
            "retention.bytes": "-1",
            "cleanup.policy": "compact",
        },
        "todos": {"retention.ms": "604800000", "retention.bytes": "-1", "cleanup.policy": "delete"},
    }
    # Only the shown settings are asked for, once per topic.
    assert [(r.name, sorted(r.configs)) for r in admin.described_configs] == [
        ("connect-offsets", ["cleanup.policy", "retention.bytes", "retention.ms"]),
        ("todos", ["cleanup.policy", "retention.bytes", "retention.ms"]),
    ]


async def test_a_topic_the_broker_cannot_describe_has_unknown_settings(view):
    cluster, _ = view
    settings = await cluster.topic_settings(["todos.dlq"])
    assert settings == {
        "todos.dlq": {"retention.ms": None, "retention.bytes": None, "cleanup.policy": None}
    }


async def test_no_topics_ask_the_broker_nothing(view):
    cluster, admin = view
    assert await cluster.topic_settings([]) == {}
    assert admin.described_configs == []


async def test_every_group_is_described_with_its_lag_on_the_topics_it_commits_on(view):
    cluster, _ = view
    groups = await cluster.groups()
    assert [(g.group, g.protocol_type, g.state, g.members) for g in groups] == [
        ("connect-cluster", "connect", None, None),
        ("todo-eda-streams", "consumer", "Stable", 2),
    ]
    connect, worker = groups
    assert connect.partitions == [] and connect.lag == 0
    assert worker.partitions == [
        GroupPartition("todo-eda-streams", "todos", 0, 12, 12),
        GroupPartition("todo-eda-streams", "todos", 1, 5, 9),
    ]
    assert worker.lag == 4


async def test_an_unreachable_broker_is_unavailable(view):
    cluster, admin = view
    admin.down = True
    with pytest.raises(ClusterUnavailableError):
        await cluster.groups()
    with pytest.raises(ClusterUnavailableError):
        await cluster.topic_settings(["todos"])


async def test_a_broker_that_does_not_answer_is_unavailable_in_bounded_time(view, monkeypatch):
    cluster, admin = view
    monkeypatch.setattr(cluster_module, "REQUEST_SECONDS", 0.05)

    async def silent(*args: Any) -> Any:
        await asyncio.Event().wait()

    monkeypatch.setattr(admin, "list_consumer_groups", silent)
    with pytest.raises(ClusterUnavailableError):
        await cluster.groups()
