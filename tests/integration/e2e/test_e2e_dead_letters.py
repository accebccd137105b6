"""Poison records land in their dead-letter topic and the worker keeps serving."""

from __future__ import annotations

import uuid

import orjson

from tests.support.polling import wait_for


def _dead_letter(pipeline, topic, value):
    for message in pipeline.records(topic):
        if message.value() == value:
            return dict(message.headers() or [])
    return None


def test_poison_goes_to_the_dlq_and_the_worker_keeps_serving(pipeline):
    marker = uuid.uuid4().hex
    garbage = f"\x00not json {marker}".encode()
    unknown = orjson.dumps(
        {
            "command_id": str(uuid.uuid4()),
            "id": 999999001,
            "operation": f"archive-{marker}",
            "owner_id": pipeline.owner_id,
            "data": {},
            "timestamp": "2026-11-27T19:42:00+00:00",
        }
    )
    # A well-formed create that names no owner: the worker cannot know whose todo it is.
    ownerless = orjson.dumps(
        {
            "command_id": str(uuid.uuid4()),
            "id": 999999003,
            "operation": "create",
            "data": {"title": f"nobody's {marker}"},
            "timestamp": "2026-11-27T19:42:00+00:00",
        }
    )
    wrong_shape = orjson.dumps({"op": "c", "after": {"id": 999999002}, "marker": marker})
    pipeline.produce("todos", b"999999001", garbage)
    pipeline.produce("todos", b"999999001", unknown)
    pipeline.produce("todos", b"999999003", ownerless)
    pipeline.produce("postgres.public.todos", b"999999002", wrong_shape)

    for topic, value, reason in (
        ("todos.dlq", garbage, b"not JSON"),
        ("todos.dlq", unknown, b"unknown operation"),
        ("todos.dlq", ownerless, b"lacks ['owner_id']"),
        ("postgres.public.todos.dlq", wrong_shape, b"lacks source"),
    ):
        headers = wait_for(
            lambda topic=topic, value=value: _dead_letter(pipeline, topic, value),
            timeout=30,
            message=f"dead letter in {topic}",
        )
        assert reason in headers["dlq.reason"], headers

    assert pipeline.read("/health").status_code == 200
    todo_id = pipeline.create("After the poison")
    pipeline.wait_todo(todo_id, lambda t: t["title"] == "After the poison")
    with pipeline.pg() as conn:
        row = conn.execute("SELECT 1 FROM todos WHERE title = %s", (f"nobody's {marker}",))
        assert row.fetchone() is None
