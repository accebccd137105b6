"""A partition's messages for the topic browser: decoding, paging math, the bounded reader."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from streams.monitoring import messages
from streams.monitoring.cluster import ClusterUnavailableError
from streams.monitoring.messages import (
    SHOWN_BYTES,
    MessageReader,
    decode_bytes,
    describe_record,
    page_window,
)
from tests.support.polling import async_wait_for

TP = TopicPartition("todos", 1)

# Decoding ---------------------------------------------------------------------------------


def test_a_json_value_is_shown_pretty_printed():
    found = decode_bytes(b'{"title":"Learn Kafka","n":[1,2]}', as_json=True)
    assert found.kind == "json"
    assert found.content == '{\n  "title": "Learn Kafka",\n  "n": [\n    1,\n    2\n  ]\n}'
    assert found.size == 33 and not found.cut


def test_json_is_only_tried_where_asked():
    assert decode_bytes(b'{"a": 1}').kind == "text"


def test_utf8_that_is_no_json_is_text():
    found = decode_bytes("déjà vu\n\tnext line".encode(), as_json=True)
    assert (found.kind, found.content) == ("text", "déjà vu\n\tnext line")


def test_bytes_that_are_no_utf8_or_hold_control_bytes_are_hex():
    assert decode_bytes(b"\xff\xfe\x00").as_dict() == {
        "kind": "hex",
        "content": "fffe00",
        "size": 3,
        "shown": 3,
        "cut": False,
    }
    # Valid UTF-8, but a NUL in it is no text a page can show.
    assert decode_bytes(b"\x00not json", as_json=True).kind == "hex"


def test_none_is_null_with_no_content():
    found = decode_bytes(None, as_json=True)
    assert (found.kind, found.content, found.size) == ("null", None, 0)


def test_a_long_value_is_cut_to_the_shown_bytes_and_says_so():
    value = orjson.dumps({"title": "x" * (SHOWN_BYTES * 2)})
    found = decode_bytes(value, as_json=True)
    # A cut JSON document does not parse: its start is shown as text.
    assert found.kind == "text" and found.cut
    assert found.size == len(value)
    assert found.content == value[:SHOWN_BYTES].decode()
    assert found.as_dict()["shown"] == SHOWN_BYTES


def test_a_cut_through_a_character_keeps_the_text_before_it():
    value = b"a" * (SHOWN_BYTES - 1) + "é".encode() * 10  # é's two bytes straddle the cut
    found = decode_bytes(value)
    assert found.kind == "text" and found.cut
    assert found.content == "a" * (SHOWN_BYTES - 1)


def test_a_long_binary_value_is_cut_hex():
    found = decode_bytes(b"\xff" * (SHOWN_BYTES + 10))
    assert found.kind == "hex" and found.cut
    assert found.content == "ff" * SHOWN_BYTES


def _record(**fields: Any) -> SimpleNamespace:
    defaults: dict[str, Any] = {
        "offset": 7,
        "timestamp": 1_764_600_000_123,
        "timestamp_type": 0,
        "key": b"42",
        "value": b'{"operation": "create"}',
        "headers": (("dlq.reason", b"not JSON"), ("trace", b"\x01\x02")),
    }
    return SimpleNamespace(**{**defaults, **fields})


def test_a_record_is_described_with_its_key_headers_and_value_decoded():
    found = describe_record(_record())
    assert found["offset"] == 7
    assert found["time"] == "2025-12-01T14:40:00.123+00:00"
    assert found["timestamp_type"] == "create"
    assert found["key"]["kind"] == "text" and found["key"]["content"] == "42"
    assert [(h["name"], h["value"]["kind"], h["value"]["content"]) for h in found["headers"]] == [
        ("dlq.reason", "text", "not JSON"),
        ("trace", "hex", "0102"),
    ]
    assert orjson.loads(found["value"]["content"]) == {"operation": "create"}
    assert found["tombstone"] is False
    assert found["size"] == 2 + 23


def test_a_null_value_is_a_tombstone():
    found = describe_record(_record(value=None, headers=None, key=None))
    assert found["tombstone"] is True
    assert found["value"]["kind"] == "null" and found["key"]["kind"] == "null"
    assert found["headers"] == [] and found["size"] == 0


# Paging -----------------------------------------------------------------------------------


def test_the_first_page_is_the_last_offsets_before_the_end():
    window = page_window(0, 50, None, 20)
    assert (window.start, window.stop, window.at_start, window.next_before) == (30, 50, False, 30)


def test_each_older_page_ends_where_the_newer_one_began_without_overlap():
    pages = []
    before = None
    while True:
        window = page_window(5, 50, before, 20)
        pages.append((window.start, window.stop))
        if window.next_before is None:
            break
        before = window.next_before
    assert pages == [(30, 50), (10, 30), (5, 10)]
    assert page_window(5, 50, 10, 20).at_start


def test_a_before_past_the_end_reads_up_to_the_end():
    window = page_window(0, 10, 500, 20)
    assert (window.start, window.stop, window.at_start) == (0, 10, True)


def test_a_before_under_the_start_is_an_empty_page_at_the_start():
    window = page_window(40, 50, 3, 20)
    assert (window.start, window.stop, window.next_before) == (40, 40, None)


def test_an_empty_partition_is_one_empty_page():
    window = page_window(0, 0, None, 20)
    assert (window.start, window.stop, window.at_start) == (0, 0, True)


# Reading ----------------------------------------------------------------------------------


class FakeConsumer:
    """A group-less consumer over one partition's records, handed out in small batches."""

    def __init__(self, offsets: list[int], *, batch: int = 3, hang: bool = False) -> None:
        self.records = [_record(offset=o) for o in offsets]
        self.batch = batch
        self.hang = hang
        self.assigned: list[TopicPartition] = []
        self.seeks: list[int] = []
        self.next = 0
        self.unsubscribed = 0
        self.committed = False
        self.reading = 0
        self.most_reading = 0

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = list(partitions)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append(offset)
        self.next = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.next

    async def getmany(self, tp: TopicPartition, timeout_ms: int, max_records: int) -> Any:
        self.reading += 1
        self.most_reading = max(self.most_reading, self.reading)
        try:
            if self.hang:
                await asyncio.Event().wait()
            # Like aiokafka: records from the position on, the last batch whole (past a stop).
            batch = [r for r in self.records if r.offset >= self.next][: self.batch]
            if not batch:  # past the last record (a gap at the end): the position moves on
                self.next += 1
                return {}
            self.next = batch[-1].offset + 1
            return {tp: batch}
        finally:
            self.reading -= 1

    def unsubscribe(self) -> None:
        self.assigned = []
        self.unsubscribed += 1

    async def commit(self, *args: Any) -> None:
        self.committed = True

    async def stop(self) -> None:
        pass


def _reader(consumer: FakeConsumer) -> MessageReader:
    reader = MessageReader("localhost:1", "test")
    reader._consumer = consumer
    return reader


async def test_a_range_is_read_from_its_first_offset_up_to_its_stop_then_unassigned():
    consumer = FakeConsumer(list(range(0, 30)))
    found = await _reader(consumer).read(TP, 12, 20)
    assert [r.offset for r in found] == list(range(12, 20))
    assert consumer.seeks == [12]
    assert consumer.unsubscribed == 1 and consumer.assigned == []
    assert not consumer.committed


async def test_offsets_without_a_record_are_passed_over():
    consumer = FakeConsumer([0, 1, 4, 9, 10])  # compacted: 2, 3, 5..8 are gone
    found = await _reader(consumer).read(TP, 1, 9)
    assert [r.offset for r in found] == [1, 4]


async def test_an_empty_range_reads_nothing():
    consumer = FakeConsumer([0, 1])
    assert await _reader(consumer).read(TP, 5, 5) == []
    assert consumer.seeks == []


async def test_reads_at_once_take_the_consumer_in_turn():
    consumer = FakeConsumer(list(range(100)), batch=2)
    reader = _reader(consumer)
    pages = await asyncio.gather(*(reader.read(TP, s, s + 10) for s in (0, 40, 80)))
    assert [[r.offset for r in page] for page in pages] == [
        list(range(s, s + 10)) for s in (0, 40, 80)
    ]
    assert consumer.most_reading == 1


async def test_a_read_kafka_does_not_answer_is_unavailable_in_bounded_time(monkeypatch):
    monkeypatch.setattr(messages, "READ_SECONDS", 0.05)
    consumer = FakeConsumer([0, 1], hang=True)
    with pytest.raises(ClusterUnavailableError, match="does not answer"):
        await _reader(consumer).read(TP, 0, 2)
    assert consumer.unsubscribed == 1


async def test_a_kafka_error_is_unavailable():
    class Broken(FakeConsumer):
        async def position(self, tp: TopicPartition) -> int:
            raise KafkaConnectionError("down")

    with pytest.raises(ClusterUnavailableError):
        await _reader(Broken([0])).read(TP, 0, 1)


async def test_reads_past_the_waiting_bound_are_refused_not_queued(monkeypatch):
    monkeypatch.setattr(messages, "MAX_WAITING_READS", 2)
    consumer = FakeConsumer([0, 1], hang=True)
    reader = _reader(consumer)
    waiting = [asyncio.ensure_future(reader.read(TP, 0, 2)) for _ in range(2)]
    await async_wait_for(lambda: _true(reader._waiting == 2), message="two reads waiting")
    with pytest.raises(ClusterUnavailableError, match="too many"):
        await reader.read(TP, 0, 2)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert reader._waiting == 0


async def _true(condition: bool) -> bool:
    return condition
