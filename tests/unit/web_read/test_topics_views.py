"""The topic browser's page and JSON: who may read it, its parameters, its answers."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition

from streams.app import settings
from streams.monitoring.cluster import (
    ClusterUnavailableError,
    GroupPartition,
    GroupSummary,
    PartitionOffsets,
)

OFFSETS = {
    TopicPartition("todos", 0): (0, 0),
    TopicPartition("todos", 1): (3, 45),
    TopicPartition("todos.dlq", 0): (0, 2),
}


class FakeCluster:
    """Two topics and one group, or a Kafka that does not answer."""

    def __init__(self) -> None:
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ClusterUnavailableError("no answer")

    async def topic_partitions(self, names: Any = None) -> list[TopicPartition]:
        self._check()
        return [tp for tp in OFFSETS if names is None or tp.topic in set(names)]

    async def offsets(self, partitions: list[TopicPartition]) -> list[PartitionOffsets]:
        self._check()
        return [PartitionOffsets(tp.topic, tp.partition, *OFFSETS[tp]) for tp in partitions]

    async def topic_settings(self, names: Any) -> dict[str, dict[str, str | None]]:
        self._check()
        return {
            name: {"retention.ms": "604800000", "retention.bytes": "-1", "cleanup.policy": "delete"}
            for name in names
        }

    async def groups(self) -> list[GroupSummary]:
        self._check()
        partitions = [
            GroupPartition("todo-eda-streams", "todos", 0, None, 0),
            GroupPartition("todo-eda-streams", "todos", 1, 40, 45),
        ]
        return [GroupSummary("todo-eda-streams", "consumer", "Stable", 1, partitions)]


class FakeReader:
    """Records on every offset, and the ranges asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[TopicPartition, int, int]] = []

    async def read(self, tp: TopicPartition, start: int, stop: int) -> list[Any]:
        self.asked.append((tp, start, stop))
        return [
            SimpleNamespace(
                offset=offset,
                timestamp=1_764_600_000_000,
                timestamp_type=0,
                key=str(offset).encode(),
                value=b'{"title": "t%d"}' % offset if offset % 5 else None,
                headers=(("dlq.reason", b"not JSON"),),
            )
            for offset in range(start, stop)
        ]


@pytest.fixture
def kafka(monkeypatch) -> tuple[FakeCluster, FakeReader]:
    """The views' cluster and message reader swapped for fakes."""
    fakes = FakeCluster(), FakeReader()
    monkeypatch.setattr("web_read.pages.topics.cluster", fakes[0])
    monkeypatch.setattr("web_read.pages.topics.reader", fakes[1])
    return fakes


@pytest.fixture
def loopback_off(monkeypatch):
    """The internal pages with READ_API_INTERNAL_LOOPBACK=0."""
    monkeypatch.setattr("web_read.internal.settings", replace(settings, internal_loopback=False))


# The page ---------------------------------------------------------------------------------


async def test_the_page_and_its_script_are_open_to_anyone(anonymous, loopback_off):
    for path, media_type, marker in (
        ("/topics", "text/html", 'src="/pages/topics.js"'),
        ("/topics/", "text/html", 'href="/pipeline"'),
        ("/pages/topics.js", "text/javascript", '"todo-eda-internal-token"'),
        ("/pages/topics.css", "text/css", "button.partition"),
    ):
        response = await anonymous.get(path)
        assert response.status == 200, path
        assert response.headers["Content-Type"].startswith(media_type)
        assert marker in await response.text()


# Who may read the JSON --------------------------------------------------------------------

JSON_PATHS = ("/topics/state", "/topics/todos/1/messages")


async def test_without_the_loopback_rule_no_token_is_a_401(anonymous, kafka, loopback_off):
    for path in JSON_PATHS:
        response = await anonymous.get(path)
        assert response.status == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await response.json())["code"] == "not_authenticated"


async def test_without_the_loopback_rule_a_user_token_is_a_403(
    anonymous, kafka, tokens, loopback_off
):
    for path in JSON_PATHS:
        response = await anonymous.get(path, headers=tokens.header())
        assert response.status == 403, path
        assert "staff" in (await response.json())["detail"]


async def test_without_the_loopback_rule_a_staff_token_reads_the_json(
    anonymous, kafka, tokens, loopback_off
):
    staff = {"Authorization": f"Bearer {tokens.access(staff=True)}"}
    for path in JSON_PATHS:
        assert (await anonymous.get(path, headers=staff)).status == 200, path


# The state --------------------------------------------------------------------------------


async def test_the_state_lists_each_topic_with_offsets_and_settings_and_each_groups_lag(
    anonymous, kafka
):
    response = await anonymous.get("/topics/state")
    assert response.status == 200
    body = await response.json()
    todos = next(t for t in body["topics"] if t["name"] == "todos")
    assert todos["partitions"] == [
        {"partition": 0, "start": 0, "end": 0},
        {"partition": 1, "start": 3, "end": 45},
    ]
    assert todos["messages"] == 42
    assert todos["settings"]["cleanup.policy"] == "delete"
    assert [t["name"] for t in body["topics"]] == ["todos", "todos.dlq"]
    [group] = body["groups"]
    assert (group["group"], group["state"], group["members"], group["lag"]) == (
        "todo-eda-streams",
        "Stable",
        1,
        5,
    )
    assert group["partitions"][1] == {
        "topic": "todos",
        "partition": 1,
        "committed": 40,
        "end": 45,
        "lag": 5,
    }


async def test_kafka_not_answering_is_a_json_503(anonymous, kafka):
    kafka[0].down = True
    for path in JSON_PATHS:
        response = await anonymous.get(path)
        assert response.status == 503, path
        assert "Kafka does not answer" in (await response.json())["detail"]


async def test_the_state_takes_no_parameters(anonymous, kafka):
    response = await anonymous.get("/topics/state?x=1")
    assert response.status == 400
    assert "Unknown query parameter x" in (await response.json())["detail"]


# Messages ---------------------------------------------------------------------------------


async def test_the_last_messages_come_newest_first_with_the_next_page_named(anonymous, kafka):
    _, reader = kafka
    response = await anonymous.get("/topics/todos/1/messages")
    assert response.status == 200
    body = await response.json()
    assert reader.asked == [(TopicPartition("todos", 1), 25, 45)]
    assert [m["offset"] for m in body["messages"]] == list(range(44, 24, -1))
    assert (body["start"], body["end"], body["first"], body["stop"]) == (3, 45, 25, 45)
    assert (body["next_before"], body["at_start"], body["limit"]) == (25, False, 20)
    newest = body["messages"][0]
    assert newest["key"]["content"] == "44"
    assert newest["headers"] == [
        {
            "name": "dlq.reason",
            "value": {"kind": "text", "content": "not JSON", "size": 8, "shown": 8, "cut": False},
        }
    ]
    assert newest["value"]["kind"] == "json" and '"title": "t44"' in newest["value"]["content"]
    tombstone = next(m for m in body["messages"] if m["offset"] == 40)
    assert tombstone["tombstone"] and tombstone["value"]["kind"] == "null"


async def test_paging_by_before_reaches_the_start_without_overlap(anonymous, kafka):
    seen: list[int] = []
    before = ""
    while True:
        response = await anonymous.get(f"/topics/todos/1/messages?limit=15{before}")
        body = await response.json()
        offsets = [m["offset"] for m in body["messages"]]
        assert not set(offsets) & set(seen)
        seen.extend(offsets)
        if body["next_before"] is None:
            assert body["at_start"]
            break
        before = f"&before={body['next_before']}"
    assert seen == list(range(44, 2, -1))


async def test_bad_parameters_are_a_400_naming_the_parameter(anonymous, kafka):
    for query, named in (
        ("limit=0", "limit must be an integer from 1 to 100"),
        ("limit=101", "limit must be an integer from 1 to 100"),
        ("limit=ten", "limit must be an integer"),
        ("before=-1", "before must be an integer from 0"),
        ("before=1.5", "before must be an integer"),
        ("before=1&before=2", "before must be given at most once"),
        ("offset=3", "Unknown query parameter offset"),
    ):
        response = await anonymous.get(f"/topics/todos/1/messages?{query}")
        assert response.status == 400, query
        assert named in (await response.json())["detail"], query
    assert not kafka[1].asked


async def test_a_partition_that_is_no_number_is_a_400(anonymous, kafka):
    for partition in ("x", "-1", "1e3"):
        response = await anonymous.get(f"/topics/todos/{partition}/messages")
        assert response.status == 400, partition
        assert "partition must be an integer" in (await response.json())["detail"]


async def test_an_unknown_topic_or_partition_is_a_404(anonymous, kafka):
    response = await anonymous.get("/topics/nothing/0/messages")
    assert response.status == 404
    assert (await response.json())["detail"] == "No topic named 'nothing'."
    response = await anonymous.get("/topics/todos/2/messages")
    assert response.status == 404
    assert "partitions 0 to 1: there is no partition 2" in (await response.json())["detail"]
    assert not kafka[1].asked


async def test_an_empty_partition_is_an_empty_page_at_its_start(anonymous, kafka):
    body = await (await anonymous.get("/topics/todos/0/messages")).json()
    assert body["messages"] == [] and body["at_start"] and body["next_before"] is None


async def test_a_read_kafka_does_not_answer_is_a_json_503(anonymous, kafka, monkeypatch):
    async def silent(*args: Any) -> list[Any]:
        raise ClusterUnavailableError("Kafka does not answer a read")

    monkeypatch.setattr(kafka[1], "read", silent)
    response = await anonymous.get("/topics/todos/1/messages")
    assert response.status == 503
    assert "Kafka does not answer" in (await response.json())["detail"]
