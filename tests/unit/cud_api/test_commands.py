"""Command building: the key bytes, the JSON value, the producer configuration."""

import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson

from cud_api.todos.commands import command_build, command_key, command_value, producer_config


def test_key_is_the_id_as_json_integer_bytes():
    assert command_key(42) == b"42"
    assert command_key(1) == b"1"
    assert command_key(9223372036854775807) == b"9223372036854775807"


def test_value_carries_the_contract_fields():
    command_id = uuid.UUID("7d7c4c3e-8f0e-4b7a-9a54-0c2b1b1d2e3f")
    command = command_build(
        todo_id=42,
        operation="create",
        data={"title": "Learn Kafka", "description": "", "completed": False},
        command_id=command_id,
        timestamp=datetime(2026, 11, 27, 19, 42, 0, 123456, tzinfo=UTC),
        owner_id=7,
    )
    assert orjson.loads(command_value(command)) == {
        "command_id": "7d7c4c3e-8f0e-4b7a-9a54-0c2b1b1d2e3f",
        "id": 42,
        "operation": "create",
        "owner_id": 7,
        "data": {"title": "Learn Kafka", "description": "", "completed": False},
        "timestamp": "2026-11-27T19:42:00.123456+00:00",
    }


def test_timestamp_is_utc_with_microseconds_even_when_given_in_another_zone():
    local = datetime(2026, 11, 27, 21, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    command = command_build(todo_id=1, operation="delete", data={}, timestamp=local, owner_id=1)
    assert orjson.loads(command_value(command))["timestamp"] == "2026-11-27T19:00:00.000000+00:00"


def test_built_command_has_a_fresh_uuid4_and_current_utc_time():
    before = datetime.now(UTC)
    first = command_build(todo_id=1, operation="delete", data={}, owner_id=1)
    second = command_build(todo_id=1, operation="delete", data={}, owner_id=1)
    assert first.command_id != second.command_id
    assert first.command_id.version == 4
    assert before <= first.timestamp <= datetime.now(UTC)


def test_delete_value_has_empty_data():
    command = command_build(todo_id=7, operation="delete", data={}, owner_id=1)
    value = orjson.loads(command_value(command))
    assert value["data"] == {}
    assert value["operation"] == "delete"


def test_enum_operation_serializes_as_its_plain_value():
    from cud_api.todos.models import CommandOperation

    command = command_build(
        todo_id=7, operation=CommandOperation.UPDATE, data={"completed": True}, owner_id=1
    )
    assert orjson.loads(command_value(command))["operation"] == "update"


def test_producer_is_durable_bounded_and_java_partitioned():
    config = producer_config()
    assert config["acks"] == "all"
    assert config["enable.idempotence"] is True
    assert config["partitioner"] == "murmur2_random"
    assert 0 < config["message.timeout.ms"] <= 10000
