"""Decoders: commands and both Debezium shapes, tombstones, garbage."""

from __future__ import annotations

import uuid

import orjson
import pytest

from contracts.records import DecodeError, Position, decode_change, decode_command
from tests.unit.streams.samples import OWNER, change, command_bytes, row


def test_a_create_command_decodes_into_a_typed_record():
    command = decode_command(b"42", command_bytes())
    assert command.todo_id == 42
    assert command.operation == "create"
    assert isinstance(command.command_id, uuid.UUID)
    assert command.timestamp.tzinfo is not None
    assert command.data == {"title": "Learn Kafka", "description": "EDA", "completed": False}
    assert command.owner_id == OWNER


def test_a_command_without_an_owner_is_refused():
    body = orjson.loads(command_bytes())
    del body["owner_id"]
    with pytest.raises(DecodeError, match="lacks \\['owner_id'\\]"):
        decode_command(b"42", orjson.dumps(body))


def test_an_update_event_names_the_owner_before_and_after():
    body = change("u", lsn=2000, before=row(owner_id=OWNER), after=row(owner_id=OWNER + 1))
    event = decode_change(b"42", body)
    assert event is not None and event.after is not None
    assert (event.before_owner_id, event.after.owner_id) == (OWNER, OWNER + 1)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (b"42", b"\x00\xffnot json", "not JSON"),
        (b"42", b"[1, 2]", "not a JSON object"),
        (b"42", command_bytes(operation="archive"), "unknown operation"),
        (b"42", command_bytes(command_id="nope"), "bad command_id"),
        (b"43", command_bytes(), "does not match"),
        (None, command_bytes(), "does not match"),
        (b"42", command_bytes(data={"title": 5}), "is not a str"),
        (b"42", command_bytes(data={"colour": "red"}), "unknown field"),
        (b"42", command_bytes(timestamp="yesterday"), "bad timestamp"),
        (b"42", command_bytes(owner_id=None), "bad owner id"),
        (b"42", command_bytes(owner_id="someone"), "bad owner id"),
        (b"42", None, "empty"),
    ],
)
def test_a_malformed_command_is_refused_with_a_reason(key, value, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_command(key, value)


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_change_event_decodes_with_or_without_the_schema_wrapper(wrapped):
    event = decode_change(b"42", change("u", lsn=2000, after=row(version=2), wrapped=wrapped))
    assert event is not None
    assert event.op == "u"
    assert event.todo_id == 42
    assert event.after is not None and event.after.version == 2
    assert event.position == Position(lsn=2000, streamed=True, version=2)


def test_a_snapshot_read_is_not_a_streamed_position():
    event = decode_change(b"42", change("r", lsn=10, after=row()))
    assert event is not None and event.position.streamed is False


def test_a_delete_event_carries_only_the_id_and_position():
    event = decode_change(b"42", change("d", lsn=3000, before=row(version=3)))
    assert event is not None
    assert (event.op, event.todo_id, event.after) == ("d", 42, None)
    assert event.position.version == 3


def test_a_delete_without_replica_identity_full_still_decodes():
    event = decode_change(b"42", change("d", lsn=3000, before={"id": 42}))
    assert event is not None and event.todo_id == 42


@pytest.mark.parametrize("value", [None, b""])
def test_a_tombstone_is_skipped_not_refused(value):
    assert decode_change(b"42", value) is None


def test_a_key_in_the_struct_form_is_accepted():
    event = decode_change(b'{"id": 42}', change("c", after=row()))
    assert event is not None and event.todo_id == 42


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (b"42", b"garbage", "not JSON"),
        (b"42", orjson.dumps({"hello": "world"}), "unknown change op"),
        (b"42", orjson.dumps({"op": "c", "after": row()}), "lacks source"),
        (b"42", change("c", after={"id": 42}), "lacks 'title'"),
        (b"42", change("c", after=row(title=None)), "not text"),
        (b"42", change("d", before=None), "before.id"),
        (b"7", change("c", after=row()), "does not match"),
        (b"42", orjson.dumps({"op": "c", "after": row(), "source": {"lsn": "x"}}), "lsn"),
    ],
)
def test_a_wrong_shaped_change_event_is_refused_with_a_reason(key, value, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_change(key, value)


def test_position_keys_sort_like_positions():
    positions = [
        Position(5, False, 9),
        Position(5, True, 1),
        Position(5, True, 2),
        Position(40, False, 1),
        Position(10**15, True, 1),
    ]
    assert sorted(positions) == positions
    assert sorted(p.key() for p in positions) == [p.key() for p in positions]
    assert all(Position.from_key(p.key()) == p for p in positions)
