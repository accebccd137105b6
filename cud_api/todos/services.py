"""Writes: validate against the system of record, allocate ids, emit commands.

Django never writes a todo row: it emits a command and the Faust command agent applies it,
so there is no dual write. Each service returns once Kafka acknowledged the command.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from cud_api.core.exceptions import NotFoundError
from cud_api.todos.commands import command_build, command_publish
from cud_api.todos.ids import IdBlockAllocator
from cud_api.todos.models import CommandOperation
from cud_api.todos.selectors import todo_id_was_allocated


@dataclass(frozen=True)
class CommandReceipt:
    """What the API tells the client about a queued command."""

    todo_id: int
    command_id: uuid.UUID
    operation: str


_ids = IdBlockAllocator(settings.CUD_API_ID_BLOCK_SIZE)


def todo_id_allocate() -> int:
    """Take the next id from the `todos` sequence (the agent inserts the row with it)."""
    return _ids.next()


def _emit(
    *,
    todo_id: int,
    operation: str,
    data: Mapping[str, Any],
    command_id: uuid.UUID | None = None,
) -> CommandReceipt:
    command = command_build(todo_id=todo_id, operation=operation, data=data, command_id=command_id)
    command_publish(command)
    return CommandReceipt(todo_id=todo_id, command_id=command.command_id, operation=operation)


def _ensure_allocated(todo_id: int) -> None:
    # A todo whose create is still in flight has an allocated id but no row yet; its update
    # or delete is accepted and lands after the create (same key, same partition).
    if not todo_id_was_allocated(todo_id=todo_id):
        raise NotFoundError(f"Todo {todo_id} does not exist.")


def todo_create_receipt() -> CommandReceipt:
    """Allocate the todo id and command id of a create, before it is emitted."""
    return CommandReceipt(
        todo_id=todo_id_allocate(), command_id=uuid.uuid4(), operation=CommandOperation.CREATE
    )


def todo_create(
    *,
    title: str,
    description: str = "",
    completed: bool = False,
    receipt: CommandReceipt | None = None,
) -> CommandReceipt:
    """Emit a create command carrying every field, under `receipt`'s ids when given (a retry)."""
    receipt = receipt or todo_create_receipt()
    data = {"title": title, "description": description, "completed": completed}
    return _emit(
        todo_id=receipt.todo_id,
        operation=CommandOperation.CREATE,
        data=data,
        command_id=receipt.command_id,
    )


def todo_update(*, todo_id: int, data: Mapping[str, Any]) -> CommandReceipt:
    """Emit an update command with the fields sent (all for PUT, some for PATCH)."""
    _ensure_allocated(todo_id)
    return _emit(todo_id=todo_id, operation=CommandOperation.UPDATE, data=data)


def todo_delete(*, todo_id: int) -> CommandReceipt:
    """Emit a delete command."""
    _ensure_allocated(todo_id)
    return _emit(todo_id=todo_id, operation=CommandOperation.DELETE, data={})
