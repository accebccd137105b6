"""Reads from PostgreSQL, the system of record."""

from __future__ import annotations

import uuid

from django.db import connection
from django.db.models import QuerySet

from contracts.limits import TODO_ID_MAX, TODO_ID_MIN
from cud_api.todos.models import Todo, TodoCommand

# bigint: larger ids cannot exist, and PostgreSQL would reject them in a comparison.


def todo_list(
    *, owner_id: int, completed: bool | None = None, after: int | None = None
) -> QuerySet[Todo]:
    """Return an owner's todos ordered by id, those above `after` and in this state if given."""
    # Served by the (owner_id, id) index.
    todos = Todo.objects.filter(owner_id=owner_id).order_by("id")
    if completed is not None:
        todos = todos.filter(completed=completed)
    if after is not None:
        todos = todos.filter(id__gt=after)
    return todos


def todo_get(*, todo_id: int, owner_id: int) -> Todo | None:
    """Return the owner's todo with this id, or None (not stored yet, or another's)."""
    return Todo.objects.filter(pk=todo_id, owner_id=owner_id).first()


def todo_owner_get(*, todo_id: int) -> tuple[int | None, bool]:
    """Return (the row's owner id or None if no row, whether the sequence handed out the id)."""
    if not TODO_ID_MIN <= todo_id <= TODO_ID_MAX:
        return None, False
    with connection.cursor() as cursor:
        # One round trip for both answers. The sequence's last value is NULL until its first
        # nextval(); it has CACHE 1, so no session holds unannounced values.
        cursor.execute(
            "SELECT (SELECT owner_id FROM todos WHERE id = %s),"
            " pg_sequence_last_value(pg_get_serial_sequence('todos', 'id')::regclass)",
            [todo_id],
        )
        row = cursor.fetchone()
    owner, last = (row[0], row[1]) if row else (None, None)
    return owner, last is not None and todo_id <= last


def todo_command_get(*, command_id: uuid.UUID) -> TodoCommand | None:
    """Return the recorded outcome of a command, or None while it is pending."""
    return TodoCommand.objects.filter(command_id=command_id).first()


def postgres_check() -> dict[str, object]:
    """Run a trivial query and confirm the schema is migrated; raise if PostgreSQL is down."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.todos') IS NOT NULL")
        row = cursor.fetchone()
    migrated = bool(row and row[0])
    if not migrated:
        raise RuntimeError("table public.todos is missing: run the migrations")
    return {"migrated": migrated}
