"""The read model's writes and page walk against an in-memory collection: CAS, directory, walk."""

from __future__ import annotations

import asyncio
import random
from typing import Any, cast

import pytest

from contracts.records import Position, Todo
from contracts.stores import BUCKET_SIZE, DIRECTORY_ROOT_ID, GROUP_SIZE, bucket_of
from streams.domain import Projection
from streams.read_model import ReadModel
from streams.read_model.directory import Directory
from streams.read_model.migration import migrate_legacy_layout
from streams.read_model.store import UPDATE_CHUNK, VersionedDocuments
from tests.support.polling import async_wait_for
from tests.unit.streams.fake_mongo import FakeCollection, FakeDatabase


def _projection(todo_id: int, lsn: int, title: str | None = "t", done: bool = False) -> Projection:
    todo = None if title is None else Todo(todo_id, title, completed=done, version=1)
    return Projection(todo=todo, position=Position(lsn=lsn, streamed=True, version=1))


class Worker:
    """One worker's read model (its own caches and directory) on a shared fake database."""

    def __init__(self, database: FakeDatabase, clock: list[float] | None = None) -> None:
        self.model = ReadModel("mongodb://unused", "unused")
        self.pages = FakeCollection(database, "todo_pages")
        self.directory = FakeCollection(database, "todo_page_directory")
        self.model.pages = VersionedDocuments(lambda: cast(Any, self.pages), cache_size=64)
        now = clock if clock is not None else [0.0]
        self.model.directory = Directory(
            VersionedDocuments(lambda: cast(Any, self.directory), cache_size=64),
            clock=lambda: now[0],
        )

    async def walk(self, limit: int, completed: bool | None = None) -> tuple[list[int], int]:
        """Follow the list from the start to its last page: ids, and how many pages."""
        ids: list[int] = []
        after: int | None = None
        pages = 0
        while True:
            page = await self.model.list_page(completed=completed, after=after, limit=limit)
            pages += 1
            assert len(page.todos) <= limit
            ids.extend(t["id"] for t in page.todos)
            if page.next_after is None:
                return ids, pages
            assert after is None or page.next_after > after
            after = page.next_after


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


async def test_a_write_lists_the_bucket_root_first_then_group_then_writes_the_bucket(database):
    worker = Worker(database)
    order: list[str] = []
    real = database.command

    async def record(name: str, collection: str, **body: Any) -> dict[str, Any]:
        ids = [d["_id"] for d in body.get("documents", [])] or [
            u["q"]["_id"] for u in body.get("updates", [])
        ]
        order.append(f"{collection}:{ids}")
        return await real(name, collection, **body)

    database.command = record
    big = GROUP_SIZE * BUCKET_SIZE + 5
    await worker.model.write({5: _projection(5, 1), big: _projection(big, 1)})
    assert order == [
        f"todo_page_directory:[{DIRECTORY_ROOT_ID}]",
        "todo_page_directory:[0, 1]",
        f"todo_pages:[0, {bucket_of(big)}]",
    ]
    directory = database.collections["todo_page_directory"]
    assert directory[DIRECTORY_ROOT_ID]["groups"] == [0, 1]
    assert directory[1]["buckets"] == [bucket_of(big)]


async def test_with_one_worker_its_cache_spares_the_read_before_each_write(database):
    worker = Worker(database)
    await worker.model.write({5: _projection(5, 1)})
    finds = worker.pages.finds
    for lsn in range(2, 6):
        assert await worker.model.write({5: _projection(5, lsn, f"v{lsn}")}) == 1
    assert worker.pages.finds == finds
    assert database.collections["todo_pages"][0]["todos"][0]["title"] == "v5"
    assert database.collections["todo_pages"][0]["_v"] == 5


async def test_redelivered_batches_leave_the_pages_unchanged(database):
    worker = Worker(database)
    batch = {i: _projection(i, 10, f"#{i}") for i in range(1, 300)}
    await worker.model.write(batch)
    before = {k: dict(v) for k, v in database.collections["todo_pages"].items()}
    fresh = Worker(database)  # a restarted worker: empty caches
    assert await fresh.model.write(batch) == 0
    assert await worker.model.write(batch) == 0
    assert database.collections["todo_pages"] == before


async def test_updates_go_out_in_commands_of_at_most_32_statements(database):
    worker = Worker(database)
    ids = [b * BUCKET_SIZE + 1 for b in range(100)]
    await worker.model.write({i: _projection(i, 1) for i in ids})
    await worker.model.write({i: _projection(i, 2) for i in ids})
    sizes = [n for name, n in database.commands if name == "update"]
    assert max(sizes) <= UPDATE_CHUNK and sum(sizes) >= 100


async def test_two_workers_writing_the_same_buckets_converge_to_the_newest_of_each(database):
    workers = [Worker(database), Worker(database)]
    rng = random.Random(7)
    newest: dict[int, Projection] = {}
    batches: list[tuple[Worker, dict[int, Projection]]] = []
    for lsn in range(1, 41):
        batch = {}
        for todo_id in rng.sample(range(1, 400), 30):
            title = None if rng.random() < 0.2 else f"{todo_id}@{lsn}"
            batch[todo_id] = _projection(todo_id, lsn, title)
            newest[todo_id] = batch[todo_id]
        batches.append((workers[lsn % 2], batch))
    # Interleaved: every write of one worker races the other's on the same few buckets.
    await asyncio.gather(*(worker.model.write(batch) for worker, batch in batches))
    live = {i: p.todo.title for i, p in newest.items() if p.todo is not None}
    for worker in workers:
        ids, _ = await worker.walk(limit=50)
        assert ids == sorted(live)
    stored = {
        t["id"]: t["title"]
        for document in database.collections["todo_pages"].values()
        for t in document["todos"]
    }
    assert stored == live


@pytest.mark.parametrize("limit", [1, 7, 100, 1000])
async def test_a_walk_over_sparse_buckets_returns_every_live_todo_once_in_order(database, limit):
    worker = Worker(database)
    rng = random.Random(limit)
    ids = sorted(
        {5, 300, 200_000, GROUP_SIZE * BUCKET_SIZE * 3 + 1}
        | set(rng.sample(range(1, 3000), 800))
        | {rng.randrange(10**6, 10**9) for _ in range(50)}
    )
    await worker.model.write({i: _projection(i, 1, done=i % 3 == 0) for i in ids})
    deleted = set(ids[::10])
    # a bucket emptied entirely stays listed and reads as empty
    deleted |= {i for i in ids if bucket_of(i) == bucket_of(300)}
    await worker.model.write({i: _projection(i, 2, None) for i in deleted})
    live = [i for i in ids if i not in deleted]
    walked, pages = await worker.walk(limit)
    assert walked == live
    if limit == 1:
        assert pages >= len(live)
    done, _ = await worker.walk(limit, completed=True)
    assert done == [i for i in live if i % 3 == 0]


async def test_a_dense_page_reads_one_or_two_buckets(database):
    worker = Worker(database)
    await worker.model.write({i: _projection(i, 1) for i in range(1, 1000)})
    finds = worker.pages.finds
    page = await worker.model.list_page(completed=None, after=None, limit=100)
    assert [t["id"] for t in page.todos] == list(range(1, 101)) and page.next_after == 100
    assert worker.pages.finds - finds == 1
    page = await worker.model.list_page(completed=None, after=100, limit=100)
    assert [t["id"] for t in page.todos] == list(range(101, 201))
    assert worker.pages.finds - finds == 3


async def test_a_page_spends_a_bounded_budget_of_buckets_and_its_link_goes_on(database):
    worker = Worker(database)
    ids = [b * BUCKET_SIZE + 1 for b in range(50)]
    await worker.model.write({i: _projection(i, 1) for i in ids})
    finds = worker.pages.finds
    page = await worker.model.list_page(completed=None, after=None, limit=100)
    read = worker.pages.finds - finds
    assert read < 50 and [t["id"] for t in page.todos] == ids[:read]
    assert page.next_after == bucket_of(ids[read - 1]) * BUCKET_SIZE + BUCKET_SIZE - 1


async def test_another_workers_bucket_shows_once_the_directory_is_older_than_its_max_age(
    database,
):
    clock = [0.0]
    reader, writer = Worker(database, clock), Worker(database)
    await reader.model.write({1: _projection(1, 1)})
    await writer.model.write({5000: _projection(5000, 1)})
    assert (await reader.walk(100))[0] == [1]
    clock[0] = 2.0
    await reader.model.list_page(completed=None, after=None, limit=1)  # starts the reload

    async def both_listed() -> list[int] | None:
        ids, _ = await reader.walk(100)
        return ids if ids == [1, 5000] else None

    assert await async_wait_for(both_listed, timeout=5, message="reload") == [1, 5000]


class LegacyFlag:
    def __init__(self) -> None:
        self.present = True
        self.drops = 0

    async def has(self) -> bool:
        return self.present

    async def drop(self) -> None:
        self.present = False
        self.drops += 1


async def test_the_migration_rebuilds_pages_from_the_table_and_drops_the_legacy_collection(
    database, monkeypatch
):
    worker = Worker(database)
    legacy = LegacyFlag()
    monkeypatch.setattr(worker.model, "has_legacy_layout", legacy.has)
    monkeypatch.setattr(worker.model, "drop_legacy_layout", legacy.drop)
    table = [(i, _projection(i, 1, None if i % 5 == 0 else "t")) for i in range(1, 10_000)]
    assert await migrate_legacy_layout(worker.model, iter(table), worker.model.write) == 9999
    assert legacy.drops == 1
    ids, _ = await worker.walk(1000)
    assert ids == [i for i in range(1, 10_000) if i % 5 != 0]
    # again (e.g. the legacy collection reappeared): nothing moves
    legacy.present = True
    before = dict(database.collections["todo_pages"])
    await migrate_legacy_layout(worker.model, iter(table), worker.model.write)
    assert database.collections["todo_pages"] == before
    assert await migrate_legacy_layout(worker.model, iter(table), worker.model.write) is None
