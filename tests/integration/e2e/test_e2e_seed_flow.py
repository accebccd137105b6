"""The seed's flow through the real stack, and where its records land in Kafka."""

from __future__ import annotations

import orjson

from tests.support.polling import wait_for

CHANGELOG = "todo-eda-streams-todos-changelog"
SEED_FIELDS = {"id", "title", "description", "completed", "created_at", "updated_at"}


def _listed(pipeline, todo_id):
    return [t for t in pipeline.list_all() if t["id"] == todo_id]


def test_post_put_patch_delete_show_on_the_read_api(pipeline):
    todo_id = pipeline.create("Learn Kafka", description="Study EDA", completed=False)
    created = pipeline.wait_todo(todo_id, lambda t: True)
    assert set(created) == SEED_FIELDS
    assert (created["title"], created["description"], created["completed"]) == (
        "Learn Kafka",
        "Study EDA",
        False,
    )
    listed = wait_for(lambda: _listed(pipeline, todo_id), timeout=30, message="todo in the list")
    assert listed == [created]

    pipeline.write(
        "PUT",
        f"/api/todos/{todo_id}/",
        {"title": "Learn Kafka", "description": "Master EDA", "completed": False},
    )
    put = pipeline.wait_todo(todo_id, lambda t: t["description"] == "Master EDA")
    assert put["updated_at"] > created["updated_at"]
    assert put["created_at"] == created["created_at"]

    pipeline.write("PATCH", f"/api/todos/{todo_id}/", {"completed": True})
    patched = pipeline.wait_todo(todo_id, lambda t: t["completed"] is True)
    assert patched["description"] == "Master EDA"
    done = pipeline.list_all("completed=true")
    assert todo_id in {t["id"] for t in done}

    pipeline.write("DELETE", f"/api/todos/{todo_id}/")
    pipeline.wait_gone(todo_id)
    assert pipeline.read(f"/api/todos/{todo_id}/").json() == {"detail": "Not found."}
    wait_for(lambda: not _listed(pipeline, todo_id), timeout=30, message="todo left the list")


def test_a_todos_records_sit_in_one_partition_in_order(pipeline):
    todo_id = pipeline.create("Partitioned")
    pipeline.wait_todo(todo_id, lambda t: True)
    pipeline.write("PATCH", f"/api/todos/{todo_id}/", {"completed": True})
    pipeline.wait_todo(todo_id, lambda t: t["completed"])
    pipeline.write("DELETE", f"/api/todos/{todo_id}/")
    pipeline.wait_gone(todo_id)
    key = str(todo_id).encode()

    commands = pipeline.records("todos", key)
    assert [orjson.loads(m.value())["operation"] for m in commands] == [
        "create",
        "update",
        "delete",
    ]
    changes = wait_for(
        lambda: (
            (found := pipeline.records("postgres.public.todos", key)) and len(found) >= 4 and found
        ),
        timeout=30,
        message="four change records",
    )
    ops = [orjson.loads(m.value())["op"] if m.value() else None for m in changes]
    assert ops == ["c", "u", "d", None]  # None: the tombstone after the delete
    changelog = wait_for(
        lambda: pipeline.records(CHANGELOG, key), timeout=30, message="changelog entries"
    )
    partitions = {m.partition() for m in [*commands, *changes, *changelog]}
    assert len(partitions) == 1, partitions


def test_an_update_made_directly_in_postgresql_shows_on_the_read_api(pipeline):
    todo_id = pipeline.create("Before psql")
    pipeline.wait_todo(todo_id, lambda t: True)
    with pipeline.pg() as conn:
        conn.execute("UPDATE todos SET title = %s WHERE id = %s", ("After psql", todo_id))
    pipeline.wait_todo(todo_id, lambda t: t["title"] == "After psql")
    wait_for(
        lambda: any(t["title"] == "After psql" for t in _listed(pipeline, todo_id)),
        timeout=30,
        message="psql update in the list",
    )
