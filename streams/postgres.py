"""PostgreSQL side of the command agent: apply a batch of commands in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncCursor
from psycopg_pool import AsyncConnectionPool

from contracts.records import Todo, TodoCommand
from streams.domain import Insert, Reject, Remove, Update, apply_command

# One statement claims every command id of the batch; the ids it returns are the commands
# never seen before, so a redelivered command (same id) is skipped: idempotency per command.
CLAIM_COMMANDS = """
INSERT INTO todo_commands (command_id, todo_id, operation, status, reason, applied_at)
SELECT c.command_id, c.todo_id, c.operation, 'applied', NULL, now()
FROM unnest(%s::uuid[], %s::bigint[], %s::text[]) AS c(command_id, todo_id, operation)
ON CONFLICT (command_id) DO NOTHING
RETURNING command_id
"""
# Rows are locked so a concurrent writer (admin, psql) can't slip between read and write.
LOCK_ROWS = """
SELECT id, title, description, completed, created_at, updated_at, version
FROM todos WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE
"""
INSERT_ROW = """
INSERT INTO todos (id, title, description, completed, created_at, updated_at, version)
VALUES (%s, %s, %s, %s, %s, %s, %s)
"""
UPDATE_ROW = """
UPDATE todos SET title = %s, description = %s, completed = %s, updated_at = %s, version = %s
WHERE id = %s
"""
DELETE_ROW = "DELETE FROM todos WHERE id = %s"
REJECT_COMMAND = "UPDATE todo_commands SET status = 'rejected', reason = %s WHERE command_id = %s"


@dataclass
class BatchOutcome:
    """How many commands of a batch were applied, rejected, or already done before."""

    applied: int = 0
    rejected: int = 0
    duplicates: int = 0


class CommandStore:
    """Applies commands to `todos` and records them in `todo_commands`."""

    def __init__(self, conninfo: str, *, max_size: int = 4) -> None:
        # open=False: nothing connects at import; the worker opens the pool on start.
        self.pool = AsyncConnectionPool(
            conninfo, min_size=1, max_size=max_size, open=False, name="streams"
        )

    async def open(self) -> None:
        """Open the pool without waiting: connections are retried in the background."""
        await self.pool.open(wait=False)

    async def close(self) -> None:
        """Close the pool."""
        await self.pool.close()

    async def apply_batch(self, commands: Sequence[TodoCommand]) -> BatchOutcome:
        """Apply the commands in order, in one transaction, skipping ones already applied."""
        outcome = BatchOutcome()
        if not commands:
            return outcome
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute(
                CLAIM_COMMANDS,
                (
                    [c.command_id for c in commands],
                    [c.todo_id for c in commands],
                    [c.operation for c in commands],
                ),
            )
            fresh = {row[0] for row in await cur.fetchall()}
            todo_ids = sorted({c.todo_id for c in commands if c.command_id in fresh})
            rows = await _lock_rows(cur, todo_ids)
            async with conn.pipeline():
                for command in commands:
                    if command.command_id not in fresh:
                        outcome.duplicates += 1
                        continue
                    fresh.discard(command.command_id)  # a repeat inside the batch is a duplicate
                    await _execute(cur, rows, command, outcome)
        return outcome


async def _lock_rows(cur: AsyncCursor[tuple[Any, ...]], todo_ids: list[int]) -> dict[int, Todo]:
    if not todo_ids:
        return {}
    await cur.execute(LOCK_ROWS, (todo_ids,))
    rows: dict[int, Todo] = {}
    for id_, title, description, completed, created_at, updated_at, version in await cur.fetchall():
        rows[int(id_)] = Todo(
            id=int(id_),
            title=str(title),
            description=str(description or ""),
            completed=bool(completed),
            created_at=created_at,
            updated_at=updated_at,
            version=int(version or 0),
        )
    return rows


async def _execute(
    cur: AsyncCursor[tuple[Any, ...]],
    rows: dict[int, Todo],
    command: TodoCommand,
    outcome: BatchOutcome,
) -> None:
    decision = apply_command(rows.get(command.todo_id), command)
    if isinstance(decision, Reject):
        outcome.rejected += 1
        await cur.execute(REJECT_COMMAND, (decision.reason, command.command_id))
        return
    outcome.applied += 1
    if isinstance(decision, Insert):
        row = decision.row
        rows[row.id] = row
        await cur.execute(
            INSERT_ROW,
            (
                row.id,
                row.title,
                row.description,
                row.completed,
                row.created_at,
                row.updated_at,
                row.version,
            ),
        )
    elif isinstance(decision, Update):
        row = decision.row
        rows[row.id] = row
        await cur.execute(
            UPDATE_ROW,
            (row.title, row.description, row.completed, row.updated_at, row.version, row.id),
        )
    elif isinstance(decision, Remove):
        rows.pop(decision.todo_id, None)
        await cur.execute(DELETE_ROW, (decision.todo_id,))
