"""The read model's guarded bulk write against the stack's real MongoDB server (FerretDB)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, ReplaceOne
from pymongo.errors import BulkWriteError

from contracts.records import Position, Todo
from streams.domain import Projection
from streams.mongo import COLLECTION, ReadModel
from tests.integration.conftest import needs


def _projection(todo_id: int, lsn: int, title: str | None = "t") -> Projection:
    todo = None if title is None else Todo(todo_id, title, version=1)
    return Projection(todo=todo, position=Position(lsn=lsn, streamed=True, version=1))


@pytest.fixture
async def read_model(stack: Any) -> AsyncIterator[ReadModel]:
    """A ReadModel on a fresh database of the stack's MongoDB server, dropped afterwards."""
    needs(stack, "ferretdb")
    database = f"e2e_read_model_{uuid.uuid4().hex[:8]}"
    model = ReadModel(os.environ["MONGO_URL"], database)
    await model.open()
    try:
        yield model
    finally:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(os.environ["MONGO_URL"])
        await client.drop_database(database)
        await client.close()
        await model.close()


def _guarded(todo_id: int, position: str) -> dict[str, Any]:
    document = {"_id": todo_id, "_pos": position}
    return {"q": {"_id": todo_id, "_pos": {"$lt": position}}, "u": document, "upsert": True}


async def test_the_servers_batch_semantics_write_many_relies_on(read_model):
    # Unordered inserts go on past duplicate keys and report each at its own index.
    await read_model.collection.insert_many([{"_id": 4, "_pos": "b"}, {"_id": 5, "_pos": "b"}])
    database = read_model.collection.database
    reply = await database.command(
        "insert",
        COLLECTION,
        documents=[{"_id": i, "_pos": "a"} for i in (3, 4, 6, 5, 7)],
        ordered=False,
    )
    assert [(e["index"], e["code"]) for e in reply["writeErrors"]] == [(1, 11000), (3, 11000)]
    assert await read_model.collection.count_documents({}) == 5
    # A guarded update without upsert never errs: it replaces only an older document.
    updates = [
        {"q": {"_id": i, "_pos": {"$lt": p}}, "u": {"_id": i, "_pos": p}}
        for i, p in ((4, "c"), (5, "a"))
    ]
    reply = await database.command("update", COLLECTION, updates=updates, ordered=False)
    assert not reply.get("writeErrors")
    assert await read_model.collection.find_one({"_id": 4}) == {"_id": 4, "_pos": "c"}
    assert await read_model.collection.find_one({"_id": 5}) == {"_id": 5, "_pos": "b"}


async def test_a_batch_of_guarded_upserts_is_no_use_on_ferretdb(read_model):
    # Why write_many does not send guarded upserts: a stale one (todo 4) makes FerretDB stop
    # the batch, unordered or not, and report index 0; todo 6 after it is silently lost.
    # MongoDB would report index 1 and write todo 6.
    await read_model.collection.insert_one({"_id": 4, "_pos": "b"})
    reply = await read_model.collection.database.command(
        "update", COLLECTION, updates=[_guarded(3, "a"), _guarded(4, "a"), _guarded(6, "a")],
        ordered=False,
    )  # fmt: skip
    assert [e["code"] for e in reply["writeErrors"]] == [11000]
    lost = await read_model.collection.find_one({"_id": 6}) is None
    wrong_index = reply["writeErrors"][0]["index"] != 1
    info = await read_model.collection.database.client.admin.command("buildInfo")
    if "ferretdb" in str(info).lower() or lost:
        assert lost and wrong_index


async def test_bulk_write_cannot_read_the_servers_reply_to_such_a_batch(read_model):
    # Why write_many sends the update command itself: on FerretDB, PyMongo's bulk_write
    # fails on the reply (no nModified) instead of raising BulkWriteError. On MongoDB it
    # raises BulkWriteError; either way it is no use for telling stale writes apart.
    await read_model.collection.insert_one({"_id": 1, "_pos": "b"})
    with pytest.raises((KeyError, BulkWriteError)):
        await read_model.collection.bulk_write(
            [ReplaceOne({"_id": 1, "_pos": {"$lt": "a"}}, {"_id": 1, "_pos": "a"}, upsert=True)],
            ordered=False,
        )


async def test_write_many_moves_todos_forward_and_skips_stale_ones(read_model):
    assert await read_model.write_many({1: _projection(1, 100), 2: _projection(2, 100)}) == 0
    stale = await read_model.write_many(
        {
            1: _projection(1, 50, "older"),
            2: _projection(2, 200, "newer"),
            4: _projection(4, 10, "first"),
            5: _projection(5, 10, "first"),
        }
    )
    assert stale == 2  # 1 and 2 existed; 1 stayed as it was
    # stale ones in the middle and at the end of a batch; the writes after them still land
    assert (
        await read_model.write_many(
            {4: _projection(4, 5), 3: _projection(3, 10), 5: _projection(5, 5)}
        )
        == 2  # 4 and 5 existed (newer), 3 is new
    )
    assert await read_model.write_many({2: _projection(2, 300, None)}) == 1  # a delete
    docs = {d["_id"]: d async for d in read_model.collection.find({})}
    assert sorted(docs) == [1, 2, 3, 4, 5]
    assert docs[4]["title"] == docs[5]["title"] == "first"
    assert docs[1]["title"] == "t" and docs[1]["_pos"] == _projection(1, 100).position.key()
    assert docs[2]["deleted"] is True
    assert docs[3]["deleted"] is False
    listed = await read_model.list_todos(completed=None, after=None, limit=10)
    assert [t["id"] for t in listed] == [1, 3, 4, 5]
    assert await read_model.collection.count_documents({}) == len(docs)
    assert read_model.collection.name == COLLECTION
