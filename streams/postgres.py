"""PostgreSQL side of the command agent: apply a batch of commands in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, AsyncCursor
from psycopg_pool import AsyncConnectionPool
from psycopg_pool.base import AttemptWithBackoff

from contracts.records import Todo, TodoCommand
from streams.domain.commands import BatchPlan, plan_batch

# One statement claims every command id of the batch; the ids it returns are the commands
# never seen before, so a redelivered command (same id) is skipped: idempotency per command.
CLAIM_COMMANDS = """
INSERT INTO todo_commands
    (command_id, todo_id, operation, owner_id, status, reason, applied_at)
SELECT c.command_id, c.todo_id, c.operation, c.owner_id, 'applied', NULL, now()
FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bigint[])
    AS c(command_id, todo_id, operation, owner_id)
ON CONFLICT (command_id) DO NOTHING
RETURNING command_id
"""
# Rows are locked so a concurrent writer (admin, psql) can't slip between read and write.
LOCK_ROWS = """
SELECT id, title, description, completed, created_at, updated_at, version, owner_id
FROM todos WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE
"""
# The owners of the batch's creates that exist, held (KEY SHARE) so none is deleted before
# COMMIT: a create for a user deleted since the write API checked the token is rejected.
LOCK_OWNERS = "SELECT id FROM auth_user WHERE id = ANY(%s::bigint[]) FOR KEY SHARE"
# An update never changes the owner (only the admin reassigns a todo), so it is not set.
# One statement per kind of write and batch, each row's values in parallel arrays: the
# statement count of a batch does not grow with its size (docs/decisions/command-batch-sql.md).
INSERT_ROWS = """
INSERT INTO todos (id, title, description, completed, created_at, updated_at, version, owner_id)
SELECT r.id, r.title, r.description, r.completed, r.created_at, r.updated_at, r.version,
    r.owner_id
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bool[], %s::timestamptz[],
    %s::timestamptz[], %s::bigint[], %s::bigint[])
    AS r(id, title, description, completed, created_at, updated_at, version, owner_id)
"""
UPDATE_ROWS = """
UPDATE todos AS t SET title = r.title, description = r.description, completed = r.completed,
    created_at = r.created_at, updated_at = r.updated_at, version = r.version
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bool[], %s::timestamptz[],
    %s::timestamptz[], %s::bigint[])
    AS r(id, title, description, completed, created_at, updated_at, version)
WHERE t.id = r.id
"""
DELETE_ROWS = "DELETE FROM todos WHERE id = ANY(%s::bigint[])"
REJECT_COMMANDS = """
UPDATE todo_commands AS c SET status = 'rejected', reason = r.reason
FROM unnest(%s::uuid[], %s::text[]) AS r(command_id, reason)
WHERE c.command_id = r.command_id
"""


#: The longest wait between two attempts to reconnect: psycopg_pool doubles its wait without a
#: cap (1, 2, 4 ... 128 s), so a database back after 45 s was only reached at 63 s.
RECONNECT_MAX_DELAY_S = 2.0
#: How long a batch waits for a connection before its write is retried (and logged once).
CONNECTION_WAIT_S = 10.0
#: A connection attempt to a database that does not answer gives up after this long.
CONNECT_TIMEOUT_S = 5
#: Keep reconnecting for this long before psycopg_pool gives the connection up (a batch
#: waiting for one then starts a new series of attempts).
RECONNECT_FOR_S = 3600.0


class CappedBackoff(AttemptWithBackoff):
    """psycopg_pool's reconnect backoff (1 s, doubled each time), never above `maximum`."""

    def __init__(self, *, timeout: float, maximum: float = RECONNECT_MAX_DELAY_S) -> None:
        super().__init__(timeout=timeout)
        self.maximum = maximum

    def update_delay(self, now: float) -> None:
        """Double the wait as psycopg_pool does, then cap it."""
        super().update_delay(now)
        self.delay = min(self.delay, self.maximum)


class ReconnectingPool(AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]]):
    """A pool that retries a lost connection every few seconds, not after ever longer waits."""

    async def _add_connection(
        self, attempt: AttemptWithBackoff | None, growing: bool = False
    ) -> None:
        # psycopg_pool starts each series of attempts with attempt=None and passes the same
        # attempt object on to the next try, so a capped one stays capped.
        if attempt is None:
            attempt = CappedBackoff(timeout=self.reconnect_timeout)
        await super()._add_connection(attempt, growing=growing)


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
        self.pool = ReconnectingPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            open=False,
            name="streams",
            timeout=CONNECTION_WAIT_S,
            reconnect_timeout=RECONNECT_FOR_S,
            # A connection that died with the server is found before a batch uses it.
            check=AsyncConnectionPool.check_connection,
            kwargs={"connect_timeout": CONNECT_TIMEOUT_S},
        )

    async def open(self) -> None:
        """Open the pool without waiting: connections are retried in the background."""
        await self.pool.open(wait=False)

    async def close(self) -> None:
        """Close the pool."""
        await self.pool.close()

    async def apply_batch(self, commands: Sequence[TodoCommand]) -> BatchOutcome:
        """Apply the commands in order, in one transaction, skipping ones already applied."""
        if not commands:
            return BatchOutcome()
        todo_ids = sorted({c.todo_id for c in commands})
        creators = sorted({c.owner_id for c in commands if c.operation == "create"})
        # Pipeline mode: BEGIN, the claim and the lock go in one round trip, the writes and
        # COMMIT in a second one.
        async with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            claim, lock, owners = conn.cursor(), conn.cursor(), conn.cursor()
            await claim.execute(
                CLAIM_COMMANDS,
                (
                    [c.command_id for c in commands],
                    [c.todo_id for c in commands],
                    [c.operation for c in commands],
                    [c.owner_id for c in commands],
                ),
            )
            # Every todo of the batch is locked, also those only a duplicate names: cheaper
            # than a round trip to learn which commands are fresh first.
            await lock.execute(LOCK_ROWS, (todo_ids,))
            await owners.execute(LOCK_OWNERS, (creators,))
            fresh = [row[0] for row in await claim.fetchall()]
            rows = _rows(await lock.fetchall())
            existing = {int(row[0]) for row in await owners.fetchall()}
            plan = plan_batch(rows, commands, fresh, owners=existing)
            await _write(claim, plan)
        return BatchOutcome(
            applied=plan.applied, rejected=len(plan.rejections), duplicates=plan.duplicates
        )


def _rows(records: Sequence[tuple[Any, ...]]) -> dict[int, Todo]:
    rows: dict[int, Todo] = {}
    for id_, title, description, completed, created_at, updated_at, version, owner in records:
        rows[int(id_)] = Todo(
            id=int(id_),
            title=str(title),
            description=str(description or ""),
            completed=bool(completed),
            created_at=created_at,
            updated_at=updated_at,
            version=int(version or 0),
            owner_id=None if owner is None else int(owner),
        )
    return rows


def _columns(rows: Sequence[Todo]) -> tuple[list[Any], ...]:
    """The columns both inserts and updates set, one array each."""
    return (
        [r.id for r in rows],
        [r.title for r in rows],
        [r.description for r in rows],
        [r.completed for r in rows],
        [r.created_at for r in rows],
        [r.updated_at for r in rows],
        [r.version for r in rows],
    )


async def _write(cur: AsyncCursor[tuple[Any, ...]], plan: BatchPlan) -> None:
    """Queue the batch's writes: each todo appears in at most one of them."""
    if plan.deletes:
        await cur.execute(DELETE_ROWS, (plan.deletes,))
    if plan.updates:
        await cur.execute(UPDATE_ROWS, _columns(plan.updates))
    if plan.inserts:
        owners = [r.owner_id for r in plan.inserts]
        await cur.execute(INSERT_ROWS, (*_columns(plan.inserts), owners))
    if plan.rejections:
        await cur.execute(
            REJECT_COMMANDS,
            ([cid for cid, _ in plan.rejections], [reason for _, reason in plan.rejections]),
        )
