"""Reads from PostgreSQL, the system of record."""

from __future__ import annotations

import uuid

from django.db import connection
from django.db.models import QuerySet

from contracts.limits import TODO_ID_MAX, TODO_ID_MIN
from cud_api.todos.models import Todo, TodoCommand

# bigint: larger ids cannot exist, and PostgreSQL would reject them in a comparison.


def todo_list(*, completed: bool | None = None, after: int | None = None) -> QuerySet[Todo]:
    """Return the todos ordered by id, those with an id above `after` and this state if given."""
    todos = Todo.objects.order_by("id")
    if completed is not None:
        todos = todos.filter(completed=completed)
    if after is not None:
        todos = todos.filter(id__gt=after)
    return todos


def todo_get(*, todo_id: int) -> Todo | None:
    """Return the todo with this id, or None if the command agent has not stored it."""
    return Todo.objects.filter(pk=todo_id).first()


def todo_id_was_allocated(*, todo_id: int) -> bool:
    """Tell whether the todos sequence has handed out this id (to the API or anyone else)."""
    if not TODO_ID_MIN <= todo_id <= TODO_ID_MAX:
        return False
    with connection.cursor() as cursor:
        # NULL until the sequence's first nextval(); otherwise the highest id handed out
        # (the sequence has CACHE 1, so no session holds unannounced values).
        cursor.execute(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence('todos', 'id')::regclass)"
        )
        row = cursor.fetchone()
    last = row[0] if row else None
    return last is not None and todo_id <= last


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
