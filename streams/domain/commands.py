"""What a command does to the row it names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from contracts.limits import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH
from contracts.records import Todo, TodoCommand


@dataclass(frozen=True)
class Insert:
    """Insert this new row."""

    row: Todo


@dataclass(frozen=True)
class Update:
    """Replace the row with this one."""

    row: Todo


@dataclass(frozen=True)
class Remove:
    """Delete the row."""

    todo_id: int


@dataclass(frozen=True)
class Reject:
    """Change nothing; record the command as rejected for this reason."""

    reason: str


Decision = Insert | Update | Remove | Reject


def _invalid(data: dict[str, Any], *, creating: bool) -> str | None:
    title = data.get("title")
    if creating and title is None:
        return "title is required"
    if title is not None and not title.strip():
        return "title must not be blank"
    if title is not None and len(title) > TITLE_MAX_LENGTH:
        return f"title is longer than {TITLE_MAX_LENGTH} characters"
    description = data.get("description")
    if description is not None and len(description) > DESCRIPTION_MAX_LENGTH:
        return f"description is longer than {DESCRIPTION_MAX_LENGTH} characters"
    return None


def apply_command(row: Todo | None, command: TodoCommand) -> Decision:
    """Decide what `command` does given the current row (None when there is none)."""
    data = dict(command.data)
    if command.operation == "create":
        if row is not None:
            return Reject(f"todo {command.todo_id} already exists")
        reason = _invalid(data, creating=True)
        if reason:
            return Reject(reason)
        return Insert(
            Todo(
                id=command.todo_id,
                title=data["title"],
                description=data.get("description", ""),
                completed=data.get("completed", False),
                created_at=command.timestamp,
                updated_at=command.timestamp,
                version=1,
                owner_id=command.owner_id,
            )
        )
    # Another user's todo gets the same answer as a missing one: its id must not leak.
    if row is None or row.owner_id != command.owner_id:
        return Reject(f"todo {command.todo_id} does not exist")
    if command.operation == "delete":
        return Remove(command.todo_id)
    reason = _invalid(data, creating=False)
    if reason:
        return Reject(reason)
    # Never move updated_at backwards, even if a client clock lags the row's.
    updated_at = command.timestamp
    if row.updated_at is not None and row.updated_at > updated_at:
        updated_at = row.updated_at
    return Update(replace(row, **data, updated_at=updated_at, version=row.version + 1))


@dataclass
class BatchPlan:
    """A batch's net effect: rows to insert, update and delete, commands to mark rejected."""

    inserts: list[Todo] = field(default_factory=list)
    updates: list[Todo] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)
    rejections: list[tuple[UUID, str]] = field(default_factory=list)
    applied: int = 0
    duplicates: int = 0


def plan_batch(
    rows: Mapping[int, Todo],
    commands: Iterable[TodoCommand],
    fresh: Iterable[UUID],
    *,
    owners: AbstractSet[int] | None = None,
) -> BatchPlan:
    """Decide each fresh command in order against the rows it leaves; return the net writes.

    `rows` are the batch's rows as they were before it; a command whose id is not in `fresh`
    (claimed before, or repeated within the batch) is a duplicate and changes nothing. Each
    todo gets at most one write: the row the batch's last command leaves (created and
    deleted within the batch: none). `owners`: the users that exist (None: not checked); a
    create for any other is rejected, not left to the foreign key.
    """
    plan = BatchPlan()
    unclaimed = set(fresh)
    current = dict(rows)
    touched: set[int] = set()
    for command in commands:
        if command.command_id not in unclaimed:
            plan.duplicates += 1
            continue
        unclaimed.discard(command.command_id)  # a repeat inside the batch is a duplicate
        if command.operation == "create" and owners is not None and command.owner_id not in owners:
            # A user deleted after the write API checked the token.
            plan.rejections.append((command.command_id, f"user {command.owner_id} does not exist"))
            continue
        decision = apply_command(current.get(command.todo_id), command)
        if isinstance(decision, Reject):
            plan.rejections.append((command.command_id, decision.reason))
            continue
        plan.applied += 1
        touched.add(command.todo_id)
        if isinstance(decision, Remove):
            current.pop(decision.todo_id, None)
        else:
            current[decision.row.id] = decision.row
    for todo_id in sorted(touched):
        final = current.get(todo_id)
        if todo_id in rows:
            if final is None:
                plan.deletes.append(todo_id)
            else:
                plan.updates.append(final)
        elif final is not None:
            plan.inserts.append(final)
    return plan
