"""Owners through CDC on the real stack: rows written by SQL, each owner's list in MongoDB.

Rows go to PostgreSQL by SQL (as the admin or psql would), Debezium captures them with their
`owner_id`, the worker's CDC agent writes each owner's bucket documents; the test walks them
with a ReadModel of its own on the worker's database (the read API's list, without HTTP). The
owner columns come with the write API's migration; until it is on this branch the fixture adds
`todos.owner_id` (nullable, no foreign key) when it is missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import psycopg
import pytest

from compose.launcher import IsolatedStack
from contracts.stores import (
    BUCKET_SIZE,
    READ_MODEL_DIRECTORY,
    READ_MODEL_PAGES,
    SUPERSEDED_READ_MODEL_COLLECTIONS,
)
from streams.read_model import ReadModel
from tests.integration.conftest import needs
from tests.support.polling import async_wait_for
from tests.support.read_model import walk_ids
from tests.support.users import insert_users

SERVICES = ("postgres", "kafka", "connect", "ferretdb", "streams")


@pytest.fixture(scope="module")
def pg(stack: IsolatedStack) -> Iterator[psycopg.Connection[Any]]:
    needs(stack, *SERVICES)
    for name in SERVICES:
        stack.wait_ready(name)
    with psycopg.connect(stack.addresses.postgres.conninfo, autocommit=True) as conn:
        conn.execute("ALTER TABLE todos ADD COLUMN IF NOT EXISTS owner_id bigint")
        yield conn


@pytest.fixture(scope="module")
def owners(pg: psycopg.Connection[Any]) -> list[int]:
    """Two fresh Django users (rows of `auth_user`, by SQL)."""
    return insert_users(pg, 2, prefix="pipeline")


@pytest.fixture
async def model(stack: IsolatedStack) -> AsyncIterator[ReadModel]:
    """A reader of the worker's read model (its own directories, no page cache)."""
    reader = ReadModel(stack.addresses.mongo_url, stack.addresses.mongo_db)
    await reader.open()
    yield reader
    await reader.close()


def fresh_ids(pg: psycopg.Connection[Any], count: int) -> list[int]:
    """Bucket-aligned ids above every id in use; the sequence moved past them."""
    row = pg.execute(
        "SELECT greatest(coalesce(pg_sequence_last_value(pg_get_serial_sequence('todos', 'id')),"
        " 0), coalesce(max(id), 0)) FROM todos"
    ).fetchone()
    assert row is not None
    base = (int(row[0]) // BUCKET_SIZE + 1) * BUCKET_SIZE
    pg.execute("SELECT setval(pg_get_serial_sequence('todos', 'id'), %s)", (base + 10**8,))
    return list(range(base, base + count))


def insert(pg: psycopg.Connection[Any], rows: Iterable[tuple[int, int]]) -> None:
    """Insert (id, owner) rows."""
    with pg.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO todos (id, title, description, completed, created_at, updated_at,"
            " version, owner_id) VALUES (%s, %s, '', false, now(), now(), 1, %s)",
            [(i, f"row {i}", owner) for i, owner in rows],
        )


def pg_ids(pg: psycopg.Connection[Any], owner: int) -> list[int]:
    return [
        r[0] for r in pg.execute("SELECT id FROM todos WHERE owner_id = %s ORDER BY id", [owner])
    ]


async def lists_match(pg: psycopg.Connection[Any], model: ReadModel, owners: list[int]) -> bool:
    """Whether each owner's walk is exactly their rows in PostgreSQL."""
    for owner in owners:
        if await walk_ids(model, owner=owner, limit=100) != pg_ids(pg, owner):
            return False
    return True


async def test_each_owners_list_follows_inserts_reassignments_and_deletes(pg, owners, model):
    a, b = owners
    ids = fresh_ids(pg, 400)
    insert(pg, [(i, a if i % 2 else b) for i in ids])

    async def settled() -> bool:
        return await lists_match(pg, model, owners)

    await async_wait_for(settled, timeout=60, message="each owner's rows in their list")
    reassigned = [i for i in ids if i % 2][:10]
    deleted = [i for i in ids if i % 2 == 0][:10]
    pg.execute("UPDATE todos SET owner_id = %s WHERE id = ANY(%s)", [b, reassigned])
    pg.execute("DELETE FROM todos WHERE id = ANY(%s)", [deleted])
    await async_wait_for(settled, timeout=60, message="the lists after the admin's edits")
    assert set(reassigned) <= set(await walk_ids(model, owner=b, limit=7))
    assert not set(reassigned) & set(await walk_ids(model, owner=a, limit=1000))
    for limit in (1, 1000):
        assert await walk_ids(model, owner=a, limit=limit) == pg_ids(pg, a)


@pytest.mark.disruptive
async def test_an_earlier_layout_is_rebuilt_per_owner_from_the_table_and_dropped(
    pg, owners, model, stack
):
    a, b = owners
    insert(pg, [(i, a if i % 3 else b) for i in fresh_ids(pg, 300)])

    async def settled() -> bool:
        return await lists_match(pg, model, owners)

    await async_wait_for(settled, timeout=60, message="the rows in the lists")
    stack.stop("streams")
    database = model.database
    for name in (READ_MODEL_PAGES, READ_MODEL_DIRECTORY):
        await database.drop_collection(name)
    for name in SUPERSEDED_READ_MODEL_COLLECTIONS:
        await database[name].insert_one({"_id": 0, "left": "by an earlier version"})
    stack.start("streams")
    stack.wait_ready("streams")
    rebuilt = ReadModel(stack.addresses.mongo_url, stack.addresses.mongo_db)  # no stale directory
    await rebuilt.open()
    try:

        async def migrated() -> bool:
            names = set(await database.list_collection_names())
            return not names & set(SUPERSEDED_READ_MODEL_COLLECTIONS) and await lists_match(
                pg, rebuilt, owners
            )

        await async_wait_for(migrated, timeout=120, message="rebuilt and the old layout dropped")
    finally:
        await rebuilt.close()
