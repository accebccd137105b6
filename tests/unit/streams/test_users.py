"""The users deny list: decoding Debezium's auth_user changes, the refusals, the reader."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition

from contracts import topics
from contracts.records import DecodeError
from streams.agents.users import UserChangesReader
from streams.users import DEACTIVATED, DELETED, DenyList, UserChange, decode_user_change
from tests.support.polling import async_wait_for


def _event(op: str, user_id: int, is_active: bool | None = True, **extra: Any) -> bytes:
    row = {"id": user_id, "is_active": is_active}
    body: dict[str, Any] = {
        "before": row if op in ("u", "d") else None,
        "after": None if op == "d" else row,
        "source": {"table": "auth_user", "lsn": 1},
        "op": op,
        "ts_ms": 1,
        **extra,
    }
    return orjson.dumps(body)


@pytest.mark.parametrize("op", ["r", "c", "u"])
def test_an_active_user_is_not_refused(op):
    assert decode_user_change(b"5", _event(op, 5)) == UserChange(5, None)


@pytest.mark.parametrize("op", ["r", "c", "u"])
def test_an_inactive_user_is_refused_as_deactivated(op):
    assert decode_user_change(b"5", _event(op, 5, False)) == UserChange(5, DEACTIVATED)


def test_a_delete_and_its_tombstone_are_both_deleted():
    assert decode_user_change(b"5", _event("d", 5, None)) == UserChange(5, DELETED)
    assert decode_user_change(b"5", None) == UserChange(5, DELETED)
    assert decode_user_change(b"5", b"") == UserChange(5, DELETED)


def test_the_converters_schema_envelope_is_unwrapped():
    key = orjson.dumps({"schema": {}, "payload": {"id": 5}})
    value = orjson.dumps({"schema": {}, "payload": orjson.loads(_event("u", 5, False))})
    assert decode_user_change(key, value) == UserChange(5, DEACTIVATED)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (None, _event("u", 5), "has no key"),
        (b"x", _event("u", 5), "key is not JSON"),
        (b"0", _event("u", 5), "bad user key"),
        (b'"five"', _event("u", 5), "bad user key"),
        (b"5", b"{", "value is not JSON"),
        (b"5", b"[1]", "not a JSON object"),
        (b"5", _event("t", 5), "unknown change op"),
        (b"5", orjson.dumps({"op": "u", "after": None}), "lacks after"),
        (b"6", _event("u", 5), "does not match"),
        (b"5", _event("u", 5, None), "bad after.is_active"),
        (b"5", _event("u", 5, "false"), "bad after.is_active"),  # type: ignore[arg-type]
    ],
)
def test_a_malformed_record_is_a_decode_error_saying_why(key, value, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_user_change(key, value)


def test_a_record_with_other_columns_would_still_only_be_read_for_is_active():
    # The connector captures only id and is_active; were it to send more, nothing else is kept.
    value = _event("u", 5, False, after={"id": 5, "is_active": False, "email": "a@b"})
    assert decode_user_change(b"5", value) == UserChange(5, DEACTIVATED)


def test_the_list_keeps_each_users_latest_state_and_replays_to_the_same():
    deny = DenyList()
    history = [
        UserChange(1, DEACTIVATED),
        UserChange(2, None),
        UserChange(1, None),
        UserChange(3, DEACTIVATED),
        UserChange(3, DELETED),
    ]
    for _ in range(2):  # a replay from offset 0 applies everything again
        for change in history:
            deny.apply(change)
        assert [deny.refusal(u) for u in (1, 2, 3, 4)] == [None, None, DELETED, None]
        assert deny.status()["refused_users"] == 1


def test_user_refusal_reads_the_workers_list(monkeypatch):
    from streams import users

    deny = DenyList()
    monkeypatch.setattr(users, "deny_list", deny)
    deny.apply(UserChange(9, DEACTIVATED))
    assert users.user_refusal(9) == DEACTIVATED
    assert users.user_refusal(10) is None


def test_a_malformed_record_is_skipped_and_counted(caplog):
    deny = DenyList()
    deny.apply_record(b"5", _event("u", 5, False), "t[0]@0")
    deny.apply_record(b"5", b"garbage", "t[0]@1")
    assert deny.refusal(5) == DEACTIVATED
    assert deny.status()["skipped_records"] == 1
    assert "t[0]@1" in caplog.text


@dataclass
class Record:
    offset: int
    key: bytes | None
    value: bytes | None


class FakeConsumer:
    """Serves fixed partitions of records, one fetch per partition per `getmany`."""

    def __init__(self, partitions: Mapping[int, list[tuple[bytes, bytes | None]]]) -> None:
        self.records = {
            TopicPartition(topics.USER_CHANGES, p): [
                Record(offset, key, value) for offset, (key, value) in enumerate(items)
            ]
            for p, items in partitions.items()
        }
        self.positions = dict.fromkeys(self.records, 0)
        self.assigned: list[TopicPartition] = []
        self.topic_polls = 0
        self.visible_after = 0
        self.stopped = False
        self.arrived = asyncio.Event()

    def append(self, partition: int, key: bytes, value: bytes | None) -> None:
        """Produce one more record to a partition."""
        records = self.records[TopicPartition(topics.USER_CHANGES, partition)]
        records.append(Record(len(records), key, value))
        self.arrived.set()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        # aiokafka's answer from its last metadata refresh: None while the topic is unknown.
        self.topic_polls += 1
        if self.topic_polls <= self.visible_after:
            return None
        return {tp.partition for tp in self.records if tp.topic == topic}

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = list(partitions)

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            self.positions[tp] = 0

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self.records[tp]) for tp in partitions}

    async def position(self, partition: TopicPartition) -> int:
        return self.positions[partition]

    async def getmany(self, *, timeout_ms: int) -> Mapping[TopicPartition, Iterable[Any]]:
        if all(self.positions[tp] >= len(self.records[tp]) for tp in self.assigned):
            # As a real fetch does: wait up to the timeout for a record to arrive.
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), timeout_ms / 1000)
            except TimeoutError:
                return {}
        fetched = {}
        for tp in self.assigned:
            at = self.positions[tp]
            if at < len(self.records[tp]):
                fetched[tp] = self.records[tp][at : at + 1]
                self.positions[tp] = at + 1
        return fetched


async def test_the_reader_reads_every_partition_from_the_start_then_is_caught_up():
    deny = DenyList()
    consumer = FakeConsumer(
        {
            0: [(b"1", _event("c", 1)), (b"1", _event("u", 1, False))],
            1: [(b"2", _event("c", 2)), (b"2", _event("d", 2, None)), (b"2", None)],
            2: [],
        }
    )
    reader = UserChangesReader(deny, lambda: consumer)
    partitions = await reader._partitions(consumer)
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    await reader.read_once(consumer, ends)
    assert not deny.caught_up
    await reader.read_once(consumer, ends)
    assert not deny.caught_up  # partition 1 has one record left
    await reader.read_once(consumer, ends)
    assert deny.caught_up
    assert [tp.partition for tp in consumer.assigned] == [0, 1, 2]
    assert (deny.refusal(1), deny.refusal(2)) == (DEACTIVATED, DELETED)


async def test_the_reader_waits_for_a_topic_not_created_yet():
    consumer = FakeConsumer({0: [(b"1", _event("u", 1, False))]})
    consumer.visible_after = 3
    reader = UserChangesReader(DenyList(), lambda: consumer, topic_wait=0)
    assert await reader._partitions(consumer) == [TopicPartition(topics.USER_CHANGES, 0)]
    assert consumer.topic_polls == 4


async def test_the_reader_follows_the_topic_until_cancelled_and_stops_its_consumer():
    deny = DenyList()
    consumer = FakeConsumer({0: [(b"1", _event("c", 1))]})
    reader = UserChangesReader(deny, lambda: consumer)
    task = asyncio.ensure_future(reader.run())

    async def caught_up() -> bool:
        return deny.caught_up

    async def refused() -> bool:
        return deny.refusal(1) == DEACTIVATED

    try:
        await async_wait_for(caught_up, timeout=5, interval=0.01, message="caught up")
        consumer.append(0, b"1", _event("u", 1, False))  # deactivated after the start
        await async_wait_for(refused, timeout=5, interval=0.01, message="user 1 refused")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert consumer.stopped


async def test_a_failing_reader_starts_over_and_keeps_what_it_knew():
    deny = DenyList()
    deny.apply(UserChange(3, DEACTIVATED))
    consumer = FakeConsumer({0: [(b"1", _event("u", 1, False))]})
    made = 0

    def factory() -> FakeConsumer:
        nonlocal made
        made += 1
        if made == 1:
            raise ConnectionError("broker down")
        return consumer

    reader = UserChangesReader(deny, factory, retry_initial=0.01)
    task = asyncio.ensure_future(reader.run())

    async def caught_up() -> bool:
        return deny.caught_up

    try:
        await async_wait_for(caught_up, timeout=5, interval=0.01, message="caught up")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert made == 2
    assert (deny.refusal(1), deny.refusal(3)) == (DEACTIVATED, DEACTIVATED)
