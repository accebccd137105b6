"""Writes over real HTTP: 202 envelope and Location, and the command on `todos`."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.partitioner import murmur2

from tests.integration.cud_api.conftest import sequence_last_value


def java_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def assert_accepted(response, operation):
    assert response.status_code == 202, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "success"
    assert body["status_code"] == 202
    assert body["message"] == f"Todo {operation} successfully queued"
    assert set(body["data"]) == {"id", "command_id"}
    command_id = body["data"]["command_id"]
    assert uuid.UUID(command_id).version == 4
    assert response.headers["Location"] == f"/api/commands/{command_id}/"
    return body["data"]["id"], command_id


def assert_command(record, *, todo_id, command_id, operation, data, partitions, owner_id):
    assert record.key == str(todo_id).encode()
    assert record.partition == java_partition(record.key, partitions)
    value = dict(record.value)
    timestamp = datetime.fromisoformat(value.pop("timestamp"))
    assert timestamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - timestamp) < timedelta(minutes=5)
    assert value == {
        "command_id": command_id,
        "id": todo_id,
        "operation": operation,
        "owner_id": owner_id,
        "data": data,
    }


def create(api, **fields):
    return assert_accepted(api.post("/api/todos/", json={"title": "t", **fields}), "create")


def test_create_emits_a_create_command_keyed_by_the_new_id(api, commands, pg, user):
    body = {"title": "Learn Kafka", "description": "Study event-driven architecture"}
    response = api.post("/api/todos/", json=body)
    todo_id, command_id = assert_accepted(response, "create")
    # The id came from the todos sequence (the command agent inserts the row with it).
    assert 1 <= todo_id <= sequence_last_value(pg)
    record = commands.wait_for_command(command_id)
    assert_command(
        record,
        todo_id=todo_id,
        command_id=command_id,
        operation="create",
        data={**body, "completed": False},
        partitions=commands.partitions,
        owner_id=user.user_id,
    )


@pytest.mark.parametrize("path", ["/todos/", "/todos", "/api/todos"])
def test_create_is_reachable_without_prefix_or_trailing_slash(api, commands, path):
    _, command_id = assert_accepted(
        api.post(path, json={"title": "seed curl", "completed": True}), "create"
    )
    record = commands.wait_for_command(command_id)
    assert record.value["data"] == {"title": "seed curl", "description": "", "completed": True}


def test_each_create_gets_a_new_id_from_the_sequence(api, pg):
    # Ids are reserved per process a block at a time: unique and from the sequence, increasing
    # within one gunicorn worker but not across workers.
    ids = [create(api)[0] for _ in range(20)]
    assert len(set(ids)) == len(ids)
    assert max(ids) <= sequence_last_value(pg)


def test_put_emits_an_update_with_every_field(api, commands, user):
    todo_id, _ = create(api)
    response = api.put(f"/api/todos/{todo_id}/", json={"title": "Renamed", "completed": True})
    _, command_id = assert_accepted(response, "update")
    assert_command(
        commands.wait_for_command(command_id),
        todo_id=todo_id,
        command_id=command_id,
        operation="update",
        data={"title": "Renamed", "description": "", "completed": True},
        partitions=commands.partitions,
        owner_id=user.user_id,
    )


def test_patch_emits_an_update_with_only_the_fields_sent(api, commands):
    todo_id, _ = create(api)
    _, command_id = assert_accepted(
        api.patch(f"/todos/{todo_id}", json={"completed": True}), "update"
    )
    record = commands.wait_for_command(command_id)
    assert record.value["operation"] == "update"
    assert record.value["data"] == {"completed": True}


def test_delete_emits_a_delete_with_empty_data(api, commands, user):
    todo_id, _ = create(api)
    _, command_id = assert_accepted(api.delete(f"/api/todos/{todo_id}/"), "delete")
    assert_command(
        commands.wait_for_command(command_id),
        todo_id=todo_id,
        command_id=command_id,
        operation="delete",
        data={},
        partitions=commands.partitions,
        owner_id=user.user_id,
    )


def test_update_and_delete_right_after_create_follow_it_in_the_same_partition(api, commands):
    todo_id, create_id = create(api, description="fresh")
    _, update_id = assert_accepted(
        api.patch(f"/api/todos/{todo_id}/", json={"title": "u"}), "update"
    )
    _, delete_id = assert_accepted(api.delete(f"/api/todos/{todo_id}/"), "delete")
    records = [commands.wait_for_command(c) for c in (create_id, update_id, delete_id)]
    assert len({r.partition for r in records}) == 1
    assert [r.offset for r in records] == sorted(r.offset for r in records)
    assert [r.value["operation"] for r in records] == ["create", "update", "delete"]


def test_writes_to_an_id_never_handed_out_are_404_and_emit_nothing(api, pg):
    unknown = sequence_last_value(pg) + 1_000_000
    for response in (
        api.put(f"/api/todos/{unknown}/", json={"title": "x"}),
        api.patch(f"/api/todos/{unknown}/", json={"title": "x"}),
        api.delete(f"/api/todos/{unknown}/"),
    ):
        assert response.status_code == 404
        assert response.json()["status"] == "error"
        assert response.json()["message"] == f"Todo {unknown} does not exist."
