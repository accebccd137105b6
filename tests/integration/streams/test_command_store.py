"""The command agent's PostgreSQL side against the real database: one batch, its net writes.

Each batch is applied by `CommandStore.apply_batch` as the agent does; the tests read back
`todos` and `todo_commands` and check what each command did: order within the batch,
rejections recorded, redeliveries skipped by command id, poison rolled back whole, row locks,
and a command of another user than the row's owner refused like a missing row.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from compose import postgres
from compose.launcher import IsolatedStack
from contracts.records import Operation, TodoCommand
from streams.postgres import BatchOutcome, CommandStore
from tests.integration.conftest import needs
from tests.support.polling import async_wait_for
from tests.support.users import insert_users

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# Ids far above the sequence's, so no other test's todo is touched.
_ids = itertools.count(random.randrange(2**62, 2**62 + 2**40))


def new_id() -> int:
    return next(_ids)


# The two users of these tests (ids set by the `owners` fixture).
OWNERS: list[int] = []


def cmd(
    todo_id: int, operation: Operation, seconds: int = 0, *, owner: int = 0, **data: Any
) -> TodoCommand:
    """A command of user OWNERS[owner]."""
    return TodoCommand(
        command_id=uuid.uuid4(),
        todo_id=todo_id,
        operation=operation,
        timestamp=T0 + timedelta(seconds=seconds),
        owner_id=OWNERS[owner],
        data=data,
    )


@pytest.fixture
def db(stack: IsolatedStack) -> Iterator[psycopg.Connection[Any]]:
    needs(stack, "postgres")
    with psycopg.connect(postgres.app_conninfo(stack.settings), autocommit=True) as conn:
        yield conn


@pytest.fixture
def owners(db: psycopg.Connection[Any]) -> Iterator[list[int]]:
    """Two Django users for the commands to belong to (rows of `auth_user`, by SQL)."""
    OWNERS[:] = insert_users(db, 2, prefix="store")
    yield OWNERS


@pytest.fixture
async def store(stack: IsolatedStack, owners: list[int]) -> AsyncIterator[CommandStore]:
    needs(stack, "postgres")
    command_store = CommandStore(postgres.app_conninfo(stack.settings))
    await command_store.pool.open(wait=True)
    try:
        yield command_store
    finally:
        await command_store.close()


def row_of(db: psycopg.Connection[Any], todo_id: int) -> tuple[Any, ...] | None:
    return db.execute(
        "SELECT title, description, completed, created_at, updated_at, version"
        " FROM todos WHERE id = %s",
        [todo_id],
    ).fetchone()


OWNER_QUERIES = {
    "todos": "SELECT owner_id FROM todos WHERE id = %s",
    "todo_commands": "SELECT owner_id FROM todo_commands WHERE command_id = %s",
}


def owner_of(db: psycopg.Connection[Any], table: str, key: Any) -> int | None:
    found = db.execute(OWNER_QUERIES[table], [key]).fetchone()
    assert found is not None
    return found[0]


def records(db: psycopg.Connection[Any], *commands: TodoCommand) -> list[tuple[Any, ...] | None]:
    """Each command's (status, reason) in `todo_commands`, in the given order (None: absent)."""
    found = dict(
        (row[0], (row[1], row[2]))
        for row in db.execute(
            "SELECT command_id, status, reason FROM todo_commands WHERE command_id = ANY(%s)",
            [[c.command_id for c in commands]],
        )
    )
    return [found.get(c.command_id) for c in commands]


async def test_each_kind_of_command_in_one_batch(store, db):
    a, b, c = new_id(), new_id(), new_id()
    await store.apply_batch([cmd(a, "create", title="a"), cmd(b, "create", title="b")])
    batch = [
        cmd(c, "create", 5, title="c", description="new", completed=True),
        cmd(a, "update", 5, completed=True),
        cmd(b, "delete", 5),
    ]
    assert await store.apply_batch(batch) == BatchOutcome(applied=3)
    assert row_of(db, c) == (
        "c",
        "new",
        True,
        T0 + timedelta(seconds=5),
        T0 + timedelta(seconds=5),
        1,
    )
    assert row_of(db, a) == ("a", "", True, T0, T0 + timedelta(seconds=5), 2)
    assert row_of(db, b) is None
    assert records(db, *batch) == [("applied", None)] * 3


async def test_commands_of_one_todo_apply_in_batch_order(store, db):
    todo = new_id()
    batch = [
        cmd(todo, "create", 0, title="first"),
        cmd(todo, "update", 1, title="second"),
        cmd(todo, "update", 2, description="third"),
    ]
    assert await store.apply_batch(batch) == BatchOutcome(applied=3)
    assert row_of(db, todo) == ("second", "third", False, T0, T0 + timedelta(seconds=2), 3)


async def test_a_todo_created_and_deleted_in_one_batch_leaves_no_row(store, db):
    todo = new_id()
    batch = [cmd(todo, "create", title="brief"), cmd(todo, "delete", 1)]
    assert await store.apply_batch(batch) == BatchOutcome(applied=2)
    assert row_of(db, todo) is None
    assert records(db, *batch) == [("applied", None)] * 2


async def test_a_todo_deleted_and_created_again_in_one_batch_is_the_new_one(store, db):
    todo = new_id()
    await store.apply_batch([cmd(todo, "create", title="old"), cmd(todo, "update", 1, title="v2")])
    batch = [cmd(todo, "delete", 2), cmd(todo, "create", 3, title="new")]
    assert await store.apply_batch(batch) == BatchOutcome(applied=2)
    moment = T0 + timedelta(seconds=3)
    assert row_of(db, todo) == ("new", "", False, moment, moment, 1)


async def test_rejections_are_recorded_with_their_reason_and_change_nothing(store, db):
    todo, missing = new_id(), new_id()
    await store.apply_batch([cmd(todo, "create", title="kept")])
    batch = [
        cmd(todo, "create", 1, title="again"),
        cmd(missing, "update", 1, title="nobody"),
        cmd(todo, "update", 1, title="   "),
        cmd(todo, "update", 2, title="renamed"),
    ]
    assert await store.apply_batch(batch) == BatchOutcome(applied=1, rejected=3)
    assert row_of(db, todo) == ("renamed", "", False, T0, T0 + timedelta(seconds=2), 2)
    assert row_of(db, missing) is None
    assert records(db, *batch) == [
        ("rejected", f"todo {todo} already exists"),
        ("rejected", f"todo {missing} does not exist"),
        ("rejected", "title must not be blank"),
        ("applied", None),
    ]


async def test_a_redelivered_batch_changes_nothing(store, db):
    todo = new_id()
    batch = [cmd(todo, "create", title="once"), cmd(todo, "update", 1, completed=True)]
    await store.apply_batch(batch)
    before = row_of(db, todo)
    # At least once: the same commands again, alone and mixed with a fresh one.
    assert await store.apply_batch(batch) == BatchOutcome(duplicates=2)
    fresh = cmd(todo, "update", 2, title="later")
    assert await store.apply_batch([*batch, fresh]) == BatchOutcome(applied=1, duplicates=2)
    assert before is not None and before[5] == 2
    assert row_of(db, todo) == ("later", "", True, T0, T0 + timedelta(seconds=2), 3)


async def test_a_command_repeated_within_a_batch_applies_once(store, db):
    todo = new_id()
    create = cmd(todo, "create", title="one")
    update = cmd(todo, "update", 1, title="two")
    outcome = await store.apply_batch([create, update, update, create])
    assert outcome == BatchOutcome(applied=2, duplicates=2)
    assert row_of(db, todo) == ("two", "", False, T0, T0 + timedelta(seconds=1), 2)


async def test_a_refused_value_rolls_back_the_whole_batch(store, db):
    good, bad = new_id(), new_id()
    batch = [cmd(good, "create", title="fine"), cmd(bad, "create", title="nul \x00 inside")]
    with pytest.raises(psycopg.DataError):
        await store.apply_batch(batch)
    # Nothing written and nothing claimed: the agent writes the batch again one by one.
    assert row_of(db, good) is None
    assert records(db, *batch) == [None, None]
    assert await store.apply_batch(batch[:1]) == BatchOutcome(applied=1)


async def test_a_batch_waits_for_a_row_another_writer_holds_and_builds_on_its_commit(store, stack):
    todo = new_id()
    await store.apply_batch([cmd(todo, "create", title="shared")])
    conninfo = postgres.app_conninfo(stack.settings)
    async with await psycopg.AsyncConnection.connect(conninfo) as other:
        # An admin's transaction holds the row: the batch must wait, then see its commit.
        await other.execute(
            "UPDATE todos SET title = 'admin', version = version + 1 WHERE id = %s", [todo]
        )
        applying = asyncio.ensure_future(
            store.apply_batch([cmd(todo, "update", 1, completed=True)])
        )

        async def batch_waits_on_a_lock() -> bool:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as probe:
                cur = await probe.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock'"
                    " AND query LIKE %s",
                    ["%FOR UPDATE%"],
                )
                row = await cur.fetchone()
            return bool(row and row[0]) and not applying.done()

        await async_wait_for(batch_waits_on_a_lock, timeout=10, message="batch waiting on lock")
        await other.commit()
        assert await applying == BatchOutcome(applied=1)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as check:
        cur = await check.execute(
            "SELECT title, completed, version FROM todos WHERE id = %s", [todo]
        )
        assert await cur.fetchone() == ("admin", True, 3)


async def test_a_create_writes_its_owner_on_the_row_and_on_the_claim(store, db):
    todo = new_id()
    create = cmd(todo, "create", title="mine", owner=1)
    assert await store.apply_batch([create]) == BatchOutcome(applied=1)
    assert owner_of(db, "todos", todo) == OWNERS[1]
    assert owner_of(db, "todo_commands", create.command_id) == OWNERS[1]


async def test_another_users_update_and_delete_are_refused_and_leave_the_row_as_it_was(store, db):
    todo, missing = new_id(), new_id()
    await store.apply_batch([cmd(todo, "create", title="a's", owner=0)])
    before = row_of(db, todo)
    batch = [
        cmd(todo, "update", 1, owner=1, title="b's now"),
        cmd(todo, "delete", 2, owner=1),
        cmd(missing, "delete", 2, owner=1),
    ]
    assert await store.apply_batch(batch) == BatchOutcome(rejected=3)
    assert row_of(db, todo) == before
    assert owner_of(db, "todos", todo) == OWNERS[0]
    # the same words as for a todo that does not exist: ids of others' todos don't leak
    assert records(db, *batch) == [
        ("rejected", f"todo {todo} does not exist"),
        ("rejected", f"todo {todo} does not exist"),
        ("rejected", f"todo {missing} does not exist"),
    ]
    assert [owner_of(db, "todo_commands", c.command_id) for c in batch] == [OWNERS[1]] * 3
    # and the owner's own update still applies
    assert await store.apply_batch([cmd(todo, "update", 3, owner=0, completed=True)]) == (
        BatchOutcome(applied=1)
    )


async def test_a_create_for_a_user_that_no_longer_exists_is_rejected_not_dead_lettered(store, db):
    (gone,) = insert_users(db, 1, prefix="gone")
    db.execute("DELETE FROM auth_user WHERE id = %s", [gone])
    todo, kept = new_id(), new_id()
    orphan = TodoCommand(
        command_id=uuid.uuid4(),
        todo_id=todo,
        operation="create",
        timestamp=T0,
        owner_id=gone,
        data={"title": "nobody's"},
    )
    mine = cmd(kept, "create", title="mine")
    # The rest of the batch still applies: the foreign key never gets to refuse the batch.
    assert await store.apply_batch([orphan, mine]) == BatchOutcome(applied=1, rejected=1)
    assert row_of(db, todo) is None and row_of(db, kept) is not None
    assert records(db, orphan) == [("rejected", f"user {gone} does not exist")]
