"""The per-owner read model on the stack's MongoDB server (FerretDB on `make up`).

Two owners' todos with alternating ids, a reassignment and a delete, walked per owner; and
the query every read sends (an `_id` equality on a string) pushed down by FerretDB.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from contracts.records import ChangeEvent, Position, Todo
from contracts.stores import READ_MODEL_DIRECTORY, READ_MODEL_PAGES, bucket_key, unpack
from streams.domain import Projection, fold_changes
from streams.read_model import ReadModel
from tests.integration.conftest import needs
from tests.support.read_model import walk_ids

OWNER, OTHER = 7, 8


@pytest.fixture
async def read_model(stack: Any) -> AsyncIterator[ReadModel]:
    """A ReadModel (one worker's) on a fresh database, dropped afterwards."""
    needs(stack, "ferretdb")
    name = f"read_model_owners_{uuid.uuid4().hex[:8]}"
    model = ReadModel(os.environ["MONGO_URL"], name)
    await model.open()
    yield model
    await model.close()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(os.environ["MONGO_URL"])
    await client.drop_database(name)
    await client.close()


def _change(todo_id: int, lsn: int, owner: int | None, before: int | None = None) -> ChangeEvent:
    """A streamed change of a row now owned by `owner` (None: its delete)."""
    after = None if owner is None else Todo(todo_id, f"{todo_id}@{lsn}", version=1, owner_id=owner)
    return ChangeEvent(
        op="d" if after is None else "u",
        todo_id=todo_id,
        after=after,
        position=Position(lsn=lsn, streamed=True, version=1),
        before_owner_id=before,
    )


async def test_each_owner_walks_only_their_todos_through_reassignment_and_delete(read_model):
    table: dict[int, Projection] = {}

    async def apply(*changes: ChangeEvent) -> None:
        moved = fold_changes(table.get, changes)
        await read_model.write(moved)
        table.update({i: Projection.from_state(p.to_state()) for i, p in moved.items()})

    ids = range(1, 600)
    await apply(*(_change(i, 10, OWNER if i % 2 else OTHER) for i in ids))
    # 3 goes to OTHER (the table knows it was OWNER's), 4 is deleted (Debezium's before says OTHER)
    await apply(_change(3, 20, OTHER, before=OWNER), _change(4, 20, None, before=OTHER))
    mine = [i for i in ids if i % 2 and i != 3]
    theirs = sorted([i for i in ids if i % 2 == 0 and i != 4] + [3])
    for limit in (7, 100, 1000):
        assert await walk_ids(read_model, owner=OWNER, limit=limit) == mine
        assert await walk_ids(read_model, owner=OTHER, limit=limit) == theirs
    assert await walk_ids(read_model, owner=OTHER + 1, limit=100) == []
    stored = await read_model.database[READ_MODEL_PAGES].find_one({"_id": bucket_key(OTHER, 0)})
    assert stored is not None and stored["owner_id"] == OTHER
    assert "owner_id" not in unpack(stored["todos"])[0]  # the public shape, as answered


async def test_a_find_by_an_owners_string_id_is_pushed_down(read_model):
    await read_model.write(
        {i: Projection(Todo(i, "t", owner_id=OWNER), Position(1, True, 1)) for i in (1, 200)}
    )
    for collection, key in (
        (READ_MODEL_PAGES, bucket_key(OWNER, 1)),
        (READ_MODEL_DIRECTORY, f"{OWNER}:root"),
    ):
        reply = await read_model.database.command(
            "explain", {"find": collection, "filter": {"_id": key}}
        )
        if "filterPushdown" not in reply:
            pytest.skip("not FerretDB: MongoDB serves `_id` equality from its `_id` index")
        assert reply["filterPushdown"] is True, reply
