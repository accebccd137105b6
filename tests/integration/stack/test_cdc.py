"""Debezium on the isolated stack: changes to public.todos arrive on the CDC topic, keyed by id."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from confluent_kafka import Message
from confluent_kafka.admin import AdminClient

from compose.launcher import IsolatedStack
from debezium.register import delete, register, status
from tests.integration.conftest import needs
from tests.integration.stack.conftest import Collect
from tests.support.polling import wait_for

CDC_TOPIC = "postgres.public.todos"


def _ops(messages: list[Message], key: bytes) -> list[str | None]:
    """The op of each record with this key, None for a tombstone."""
    ops: list[str | None] = []
    for msg in messages:
        if msg.key() == key:
            value = msg.value()
            ops.append(json.loads(value)["op"] if value is not None else None)
    return ops


def test_the_connector_and_its_task_are_running(stack: IsolatedStack) -> None:
    needs(stack, "postgres", "kafka", "connect")
    state = status(stack.env["KAFKA_CONNECT_URL"], "todos-postgres")
    assert state is not None
    assert state["connector"]["state"] == "RUNNING"
    assert [task["state"] for task in state["tasks"]] == ["RUNNING"]


def test_insert_update_delete_arrive_as_c_u_d_keyed_by_the_plain_id(
    stack: IsolatedStack,
    app_db: psycopg.Connection[Any],
    topic_reader: Callable[[str], Collect],
    demo_id: int,
) -> None:
    needs(stack, "postgres", "kafka", "connect")
    collect = topic_reader(CDC_TOPIC)
    row = app_db.execute(
        "INSERT INTO todos (title, owner_id) VALUES (%s, %s) RETURNING id", ("smoke: cdc", demo_id)
    ).fetchone()
    assert row is not None
    todo_id = row[0]
    app_db.execute("UPDATE todos SET completed = true, version = 2 WHERE id = %s", (todo_id,))
    app_db.execute("DELETE FROM todos WHERE id = %s", (todo_id,))
    key = str(todo_id).encode()

    messages = collect(lambda seen: len(_ops(seen, key)) >= 4, 90)

    assert _ops(messages, key) == ["c", "u", "d", None]  # None: the tombstone after the delete
    created = next(m for m in messages if m.key() == key)
    after = json.loads(created.value() or b"null")["after"]
    assert (after["id"], after["title"], after["owner_id"]) == (todo_id, "smoke: cdc", demo_id)
    assert {m.partition() for m in messages if m.key() == key} == {created.partition()}


def test_a_row_that_existed_before_the_connector_arrives_as_snapshot_r(
    stack: IsolatedStack,
    app_db: psycopg.Connection[Any],
    superuser_db: psycopg.Connection[Any],
    topic_reader: Callable[[str], Collect],
    demo_id: int,
) -> None:
    """A second connector with its own slot, publication and topic prefix snapshots the table."""
    needs(stack, "postgres", "kafka", "connect")
    row = app_db.execute(
        "INSERT INTO todos (title, owner_id) VALUES (%s, %s) RETURNING id",
        ("smoke: snapshot", demo_id),
    ).fetchone()
    assert row is not None
    todo_id = row[0]
    suffix = uuid.uuid4().hex[:10]
    name, prefix, slot = f"smoke-{suffix}", f"smoke{suffix}", f"smoke_{suffix}"
    url = stack.env["KAFKA_CONNECT_URL"]
    try:
        register(
            url,
            name=name,
            overrides={
                "topic.prefix": prefix,
                "slot.name": slot,
                "publication.name": slot,
                "heartbeat.interval.ms": "0",
            },
            timeout=90,
        )
        collect = topic_reader(f"{prefix}.public.todos")
        key = str(todo_id).encode()
        messages = collect(lambda seen: bool(_ops(seen, key)), 90)
        assert _ops(messages, key) == ["r"]
    finally:
        delete(url, name)
        app_db.execute("DELETE FROM todos WHERE id = %s", (todo_id,))

        def slot_dropped() -> bool:
            superuser_db.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s AND NOT active",
                (slot,),
            )
            found = superuser_db.execute(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,)
            ).fetchone()
            return found is None

        wait_for(slot_dropped, timeout=60, message=f"slot {slot} dropped")
        superuser_db.execute(f'DROP PUBLICATION IF EXISTS "{slot}"')
        admin = AdminClient({"bootstrap.servers": stack.env["KAFKA_BROKER_URL"]})
        admin.delete_topics([f"{prefix}.public.todos"])


def test_the_replication_slot_moves_on_while_only_uncaptured_tables_change(
    stack: IsolatedStack, superuser_db: psycopg.Connection[Any]
) -> None:
    """The heartbeat's logical message lets Debezium confirm WAL it has no event for."""
    needs(stack, "postgres", "kafka", "connect")
    superuser_db.execute("CREATE TABLE IF NOT EXISTS smoke_uncaptured (x int)")
    try:
        superuser_db.execute("INSERT INTO smoke_uncaptured SELECT generate_series(1, 10000)")
        row = superuser_db.execute("SELECT pg_current_wal_lsn()").fetchone()
        assert row is not None
        written = row[0]

        def slot_caught_up() -> bool:
            found = superuser_db.execute(
                "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM pg_replication_slots "
                "WHERE slot_name = 'debezium_todos'",
                (str(written),),
            ).fetchone()
            return bool(found and found[0])

        wait_for(slot_caught_up, timeout=60, interval=1, message="slot confirmed past the write")
    finally:
        superuser_db.execute("DROP TABLE IF EXISTS smoke_uncaptured")
