"""Sample records shaped like the write API's commands and Debezium's change events."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

STAMP = "2026-11-27T19:42:00.123456+00:00"
# The user the samples belong to unless a test names another.
OWNER = 7


def command_bytes(todo_id: int = 42, operation: str = "create", **overrides: Any) -> bytes:
    """Return a command's JSON value as produced by the write API."""
    body: dict[str, Any] = {
        "command_id": str(uuid.uuid4()),
        "id": todo_id,
        "operation": operation,
        "owner_id": OWNER,
        "data": {"title": "Learn Kafka", "description": "EDA", "completed": False},
        "timestamp": STAMP,
    }
    body.update(overrides)
    return orjson.dumps(body)


def row(todo_id: int = 42, **overrides: Any) -> dict[str, Any]:
    """Return a `todos` row as Debezium's JSON converter renders it."""
    base: dict[str, Any] = {
        "id": todo_id,
        "title": "Learn Kafka",
        "description": "EDA",
        "completed": False,
        "created_at": "2026-11-27T19:42:00.123456Z",
        "updated_at": "2026-11-27T19:42:00.123456Z",
        "version": 1,
        "owner_id": OWNER,
    }
    base.update(overrides)
    return base


def change(
    op: str = "c",
    *,
    lsn: int = 1000,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    wrapped: bool = False,
) -> bytes:
    """Return a Debezium envelope, plain or inside the schemas.enable=true wrapper."""
    envelope = {
        "before": before,
        "after": after,
        "source": {
            "connector": "postgresql",
            "snapshot": "true" if op == "r" else "false",
            "table": "todos",
            "lsn": lsn,
            "sequence": orjson.dumps([str(lsn - 8), str(lsn)]).decode(),
        },
        "op": op,
        "ts_ms": 1764272520000,
    }
    if wrapped:
        return orjson.dumps({"schema": {"type": "struct"}, "payload": envelope})
    return orjson.dumps(envelope)
