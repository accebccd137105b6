"""The read model's store against the stack's real MongoDB server (FerretDB on `make up`)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from contracts.records import Todo
from contracts.stores import BUCKET_SIZE, READ_MODEL_PAGES, bucket_key, unpack
from streams.read_model import ReadModel
from streams.read_model.store import UPDATE_CHUNK
from tests.integration.conftest import needs
from tests.support.read_model import SAMPLE_OWNER, projection, walk_ids

OWNER = SAMPLE_OWNER


def _key(n: int) -> str:
    return bucket_key(OWNER, n)


@pytest.fixture
async def database(stack: Any) -> AsyncIterator[str]:
    """A fresh database name on the stack's MongoDB server, dropped afterwards."""
    needs(stack, "ferretdb")
    name = f"e2e_read_model_{uuid.uuid4().hex[:8]}"
    yield name
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(os.environ["MONGO_URL"])
    await client.drop_database(name)
    await client.close()


@pytest.fixture
async def read_model(database: str) -> AsyncIterator[ReadModel]:
    """A ReadModel (one worker's) on the fresh database."""
    model = ReadModel(os.environ["MONGO_URL"], database)
    await model.open()
    yield model
    await model.close()


async def test_the_servers_write_semantics_the_store_relies_on(read_model):
    # Unordered inserts go on past duplicate keys and report each at its own index.
    pages = read_model.database[READ_MODEL_PAGES]
    await pages.insert_many([{"_id": _key(4), "_v": 1}, {"_id": _key(5), "_v": 1}])
    reply = await read_model.database.command(
        "insert",
        READ_MODEL_PAGES,
        documents=[{"_id": _key(i), "_v": 1} for i in (3, 4, 6, 5, 7)],
        ordered=False,
    )
    assert [(e["index"], e["code"]) for e in reply["writeErrors"]] == [(1, 11000), (3, 11000)]
    # A compare-and-set replace matches only the expected version, and `n` counts matches.
    updates = [
        {"q": {"_id": _key(i), "_v": v}, "u": {"_id": _key(i), "_v": v + 1, "x": i}}
        for i, v in ((3, 1), (4, 7), (5, 1), (6, 0))
    ]
    reply = await read_model.database.command(
        "update", READ_MODEL_PAGES, updates=updates, ordered=False
    )
    assert not reply.get("writeErrors") and reply["n"] == 2
    assert await pages.find_one({"_id": _key(4)}) == {"_id": _key(4), "_v": 1}
    assert await pages.find_one({"_id": _key(5)}) == {"_id": _key(5), "_v": 2, "x": 5}
    # A full chunk of CAS replaces answers.
    await pages.insert_many([{"_id": _key(100 + i), "_v": 1} for i in range(UPDATE_CHUNK)])
    chunk = [
        {"q": {"_id": _key(100 + i), "_v": 1}, "u": {"_id": _key(100 + i), "_v": 2}}
        for i in range(UPDATE_CHUNK)
    ]
    reply = await asyncio.wait_for(
        read_model.database.command("update", READ_MODEL_PAGES, updates=chunk, ordered=False), 10
    )
    assert reply["n"] == UPDATE_CHUNK


async def test_pages_list_live_todos_in_id_order_across_buckets_and_filter_completed(read_model):
    ids = [1, 2, 127, 128, 129, 5000, 5001, 300_000]
    await read_model.write({i: projection(i, 10, f"#{i}", done=i % 2 == 0) for i in ids})
    await read_model.write({128: projection(128, 20, None), 2: projection(2, 5, "stale")})
    live = [i for i in ids if i != 128]
    page = await read_model.list_page(owner_id=OWNER, completed=None, after=None, limit=100)
    assert [t["id"] for t in page.todos] == live and page.next_after is None
    assert page.todos[1] == Todo(2, "#2", completed=True, version=1).to_json()
    assert await walk_ids(read_model, owner=OWNER + 1, limit=100) == []
    # The lists come back from the server as the JSON text the worker packed.
    stored = await read_model.database[READ_MODEL_PAGES].find_one({"_id": _key(0)})
    assert stored is not None
    assert [t["id"] for t in unpack(stored["todos"])] == [1, 2, 127]
    assert set(unpack(stored["positions"])) == {"1", "2", "127"}
    assert await walk_ids(read_model, owner=OWNER, limit=1) == live
    assert await walk_ids(read_model, owner=OWNER, limit=3, completed=True) == [
        i for i in live if i % 2 == 0
    ]
    assert await walk_ids(read_model, owner=OWNER, limit=3, completed=False) == [
        i for i in live if i % 2 == 1
    ]


async def test_a_redelivered_batch_leaves_every_document_as_it_was(read_model, database):
    batch = {i: projection(i, 10, f"#{i}") for i in range(1, 3 * BUCKET_SIZE)}
    assert await read_model.write(batch) == 3
    pages = read_model.database[READ_MODEL_PAGES]
    before = [d async for d in pages.find({}).sort("_id", 1)]
    restarted = ReadModel(os.environ["MONGO_URL"], database)  # empty cache: reads first
    await restarted.open()
    try:
        assert await restarted.write(batch) == 0
    finally:
        await restarted.close()
    assert await read_model.write(batch) == 0
    assert [d async for d in pages.find({}).sort("_id", 1)] == before


async def test_a_worker_with_a_stale_cache_loses_the_compare_and_set_and_merges_again(
    read_model, database
):
    other = ReadModel(os.environ["MONGO_URL"], database)
    await other.open()
    try:
        await read_model.write({1: projection(1, 1), 2: projection(2, 1)})
        await other.write({3: projection(3, 1), 200: projection(200, 1)})
        # `read_model`'s cached bucket 0 is a version behind now: its CAS must miss, re-read
        # and merge onto the other worker's document, and likewise the other way round.
        for n in range(6):
            writer = read_model if n % 2 else other
            await writer.write({n % 3 + 1: projection(n % 3 + 1, 10 + n, f"v{n}")})
        await read_model.write({201: projection(201, 1)})
        expected = [1, 2, 3, 200, 201]
        assert await walk_ids(read_model, owner=OWNER, limit=2) == expected
        assert await walk_ids(other, owner=OWNER, limit=100) == expected
    finally:
        await other.close()
    page = await read_model.list_page(owner_id=OWNER, completed=None, after=None, limit=3)
    assert [t["title"] for t in page.todos] == ["v3", "v4", "v5"]


async def test_the_writes_of_one_worker_never_race_each_other(read_model):
    # The CDC agent and the upgrade's rebuild may write at once: the model serializes them, as
    # FerretDB 1.24's update (a query, then an UPDATE by `_id` alone) would lose one otherwise.
    rounds = [
        read_model.write(
            {n % 5 + 1: projection(n % 5 + 1, 10 + n, f"v{n}"), 200 + n: projection(200 + n, 1)}
        )
        for n in range(12)
    ]
    await asyncio.gather(*rounds)
    assert await walk_ids(read_model, owner=OWNER, limit=4) == [1, 2, 3, 4, 5, *range(200, 212)]
