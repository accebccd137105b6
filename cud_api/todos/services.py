"""Writes: validate against the system of record, allocate ids, emit commands.

Django never writes a todo row: it emits a command and the Faust command agent applies it,
so there is no dual write. Each service returns once Kafka acknowledged the command. Every
command carries the caller's user id (`owner_id`), from their token.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from cud_api.core.exceptions import NotFoundError
from cud_api.todos.commands import command_build, command_publish
from cud_api.todos.ids import OwnerIdBlocks
from cud_api.todos.models import CommandOperation
from cud_api.todos.selectors import todo_owner_get


@dataclass(frozen=True)
class CommandReceipt:
    """What the API tells the client about a queued command."""

    todo_id: int
    command_id: uuid.UUID
    operation: str


_ids = OwnerIdBlocks(settings.CUD_API_ID_BLOCK_SIZE)


def todo_id_allocate(*, owner_id: int) -> int:
    """Take the next id of this owner's block (from the `todos` sequence; the agent inserts it)."""
    return _ids.next(owner_id)


def _emit(
    *,
    todo_id: int,
    owner_id: int,
    operation: str,
    data: Mapping[str, Any],
    command_id: uuid.UUID | None = None,
) -> CommandReceipt:
    command = command_build(
        todo_id=todo_id,
        operation=operation,
        data=data,
        owner_id=owner_id,
        command_id=command_id,
    )
    command_publish(command)
    return CommandReceipt(todo_id=todo_id, command_id=command.command_id, operation=operation)


def _ensure_may_change(todo_id: int, owner_id: int) -> None:
    """404 unless the row is the caller's, or there is no row yet but the id was handed out."""
    owner, allocated = todo_owner_get(todo_id=todo_id)
    # Another's todo answers exactly like a missing one, so ids of others' todos don't leak.
    # A todo whose create is still in flight has an allocated id but no row yet; its update
    # or delete is accepted, lands after the create (same key, same partition), and the
    # command agent refuses it there if the owner does not match.
    if (owner is not None and owner != owner_id) or (owner is None and not allocated):
        raise NotFoundError(f"Todo {todo_id} does not exist.")


def todo_create_receipt(*, owner_id: int) -> CommandReceipt:
    """Allocate the todo id and command id of a create, before it is emitted."""
    return CommandReceipt(
        todo_id=todo_id_allocate(owner_id=owner_id),
        command_id=uuid.uuid4(),
        operation=CommandOperation.CREATE,
    )


def todo_create(
    *,
    owner_id: int,
    title: str,
    description: str = "",
    completed: bool = False,
    receipt: CommandReceipt | None = None,
) -> CommandReceipt:
    """Emit a create command carrying every field, under `receipt`'s ids when given (a retry)."""
    receipt = receipt or todo_create_receipt(owner_id=owner_id)
    data = {"title": title, "description": description, "completed": completed}
    return _emit(
        todo_id=receipt.todo_id,
        owner_id=owner_id,
        operation=CommandOperation.CREATE,
        data=data,
        command_id=receipt.command_id,
    )


def todo_update(*, todo_id: int, owner_id: int, data: Mapping[str, Any]) -> CommandReceipt:
    """Emit an update command with the fields sent (all for PUT, some for PATCH)."""
    _ensure_may_change(todo_id, owner_id)
    return _emit(todo_id=todo_id, owner_id=owner_id, operation=CommandOperation.UPDATE, data=data)


def todo_delete(*, todo_id: int, owner_id: int) -> CommandReceipt:
    """Emit a delete command."""
    _ensure_may_change(todo_id, owner_id)
    return _emit(todo_id=todo_id, owner_id=owner_id, operation=CommandOperation.DELETE, data={})
