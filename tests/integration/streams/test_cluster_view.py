"""The topic browser's view of the real Kafka: offsets, settings, the worker's group, messages.

Its records go to a topic of its own, created here (two partitions, an hour's retention), so
no agent sees them; only the dead-letter check writes to `todos`, as a client would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from compose.launcher import IsolatedStack
from contracts import topics
from streams.monitoring.cluster import ClusterView
from streams.monitoring.messages import MessageReader, describe_record, page_window
from streams.settings import DEFAULT_APP_ID as WORKER_GROUP
from tests.integration.conftest import needs
from tests.support.polling import async_wait_for

RETENTION_MS = "3600000"


@pytest.fixture
def broker(stack: IsolatedStack) -> str:
    """The stack's broker, with the worker consuming from it."""
    needs(stack, "kafka", "streams")
    stack.wait_ready("streams")
    return stack.addresses.kafka


@pytest.fixture
async def view(broker: str) -> AsyncIterator[ClusterView]:
    """A ClusterView of the stack's cluster, as the worker's pages hold one."""
    found = ClusterView(broker, "test-cluster-view")
    yield found
    await found.close()


@pytest.fixture
async def reader(broker: str) -> AsyncIterator[MessageReader]:
    """A MessageReader of the stack's cluster."""
    found = MessageReader(broker, "test-cluster-view")
    yield found
    await found.close()


@pytest.fixture
async def producer(broker: str) -> AsyncIterator[AIOKafkaProducer]:
    """A producer waiting for every broker acknowledgement."""
    found = AIOKafkaProducer(bootstrap_servers=broker, acks="all")
    await found.start()
    yield found
    await found.stop()


@pytest.fixture
async def own_topic(broker: str) -> AsyncIterator[str]:
    """A fresh two-partition topic with an hour's retention, deleted afterwards."""
    name = f"topic-browser-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, 2, 1, topic_configs={"retention.ms": RETENTION_MS})]
        )
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


async def _end(view: ClusterView, tp: TopicPartition) -> int:
    [offsets] = await view.offsets([tp])
    return offsets.end


async def test_a_new_topic_is_listed_with_its_settings_and_its_offsets_grow(
    view: ClusterView, producer: AIOKafkaProducer, own_topic: str
):
    listed = await async_wait_for(
        lambda: view.topic_partitions([own_topic]), message=f"{own_topic} in the metadata"
    )
    assert listed == [TopicPartition(own_topic, 0), TopicPartition(own_topic, 1)]
    settings = await view.topic_settings([own_topic])
    assert settings[own_topic]["retention.ms"] == RETENTION_MS
    assert settings[own_topic]["cleanup.policy"] == "delete"
    assert settings[own_topic]["retention.bytes"] == "-1"  # the broker's default, stated
    tp = TopicPartition(own_topic, 1)
    assert await _end(view, tp) == 0
    for n in range(3):
        await producer.send_and_wait(own_topic, b"v%d" % n, key=b"k", partition=1)
    assert await _end(view, tp) == 3
    assert await _end(view, TopicPartition(own_topic, 0)) == 0


async def test_records_read_back_with_their_keys_headers_and_tombstones(
    view: ClusterView, reader: MessageReader, producer: AIOKafkaProducer, own_topic: str
):
    tp = TopicPartition(own_topic, 0)
    sent: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = [
        (b"42", b'{"title": "first"}', [("dlq.reason", b"not JSON"), ("raw", b"\x00\xff")]),
        (b"\xfe\x01", b"plain text", []),
        (b"42", None, [("why", "déjà".encode())]),
    ]
    for key, value, headers in sent:
        await producer.send_and_wait(own_topic, value, key=key, partition=0, headers=headers)
    records = await reader.read(tp, 0, await _end(view, tp))
    assert [(r.key, r.value, list(r.headers)) for r in records] == sent
    shown = [describe_record(r) for r in records]
    assert shown[0]["value"]["kind"] == "json"
    assert [
        (h["name"], h["value"]["kind"], h["value"]["content"]) for h in shown[0]["headers"]
    ] == [
        ("dlq.reason", "text", "not JSON"),
        ("raw", "hex", "00ff"),
    ]
    assert (shown[1]["key"]["kind"], shown[1]["key"]["content"]) == ("hex", "fe01")
    assert shown[1]["value"]["content"] == "plain text"
    assert shown[2]["tombstone"] and shown[2]["headers"][0]["value"]["content"] == "déjà"
    # A later range, and one past what is there, read only what they cover.
    assert [r.offset for r in await reader.read(tp, 1, 3)] == [1, 2]


async def _dead_letter(
    view: ClusterView, reader: MessageReader, value: bytes
) -> dict[str, Any] | None:
    """The decoded record of `todos.dlq` whose value is `value`, among each partition's last."""
    for offsets in await view.offsets(await view.topic_partitions([topics.COMMANDS_DLQ])):
        window = page_window(offsets.start, offsets.end, None, 100)
        tp = TopicPartition(offsets.topic, offsets.partition)
        for record in await reader.read(tp, window.start, window.stop):
            if record.value == value:
                return describe_record(record)
    return None


async def test_a_poison_command_is_dead_lettered_with_its_reason_and_the_group_catches_up(
    view: ClusterView, reader: MessageReader, producer: AIOKafkaProducer
):
    poison = f"not json {uuid.uuid4().hex}".encode()
    sent = await producer.send_and_wait(topics.COMMANDS, poison, key=b"999999101")

    found = await async_wait_for(
        lambda: _dead_letter(view, reader, poison), message="the poison in todos.dlq"
    )
    headers = {h["name"]: h["value"]["content"] for h in found["headers"]}
    assert "not JSON" in headers["dlq.reason"]
    assert headers["dlq.topic"] == topics.COMMANDS
    assert (headers["dlq.partition"], headers["dlq.offset"]) == (
        str(sent.partition),
        str(sent.offset),
    )
    assert found["key"]["content"] == "999999101"

    async def caught_up() -> list[Any] | None:
        lags = await view.group_lag(WORKER_GROUP, [topics.COMMANDS])
        mine = next(p for p in lags if p.partition == sent.partition)
        done = mine.committed is not None and mine.committed > sent.offset
        return lags if done and all(p.lag == 0 for p in lags) else None

    await async_wait_for(caught_up, message="the worker's group at lag 0 past the poison")
    [worker] = [g for g in await view.groups() if g.group == WORKER_GROUP]
    assert worker.state == "Stable" and worker.members
    assert {p.topic for p in worker.partitions} >= {topics.COMMANDS}
