"""The read model's writes and page walk against an in-memory database: CAS, directory, walk."""

from __future__ import annotations

import asyncio
import random
from typing import Any, cast

import pytest

from contracts.records import ChangeEvent, Position, Todo
from contracts.stores import (
    BUCKET_SIZE,
    GROUP_SIZE,
    LEGACY_READ_MODEL_COLLECTION,
    READ_MODEL_DIRECTORY,
    READ_MODEL_PAGES,
    UNOWNED_READ_MODEL_DIRECTORY,
    UNOWNED_READ_MODEL_PAGES,
    UNPACKED_READ_MODEL_DIRECTORY,
    UNPACKED_READ_MODEL_PAGES,
    bucket_key,
    bucket_of,
    directory_group_key,
    directory_root_key,
    unpack,
)
from streams.domain import Projection, fold_changes
from streams.read_model import DocumentsRefusedError, ReadModel
from streams.read_model.migration import migrate_legacy_layout
from streams.read_model.store import UPDATE_CHUNK
from tests.support.polling import async_wait_for
from tests.unit.streams.fake_mongo import DatabaseView, FakeDatabase

OWNER, OTHER = 7, 8


def _projection(
    todo_id: int, lsn: int, title: str | None = "t", done: bool = False, owner: int | None = OWNER
) -> Projection:
    """A todo of `owner` at `lsn`; title None: its delete (out of `owner`'s list)."""
    position = Position(lsn=lsn, streamed=True, version=1)
    if title is None:
        former = frozenset() if owner is None else frozenset({owner})
        return Projection(todo=None, position=position, former_owners=former)
    return Projection(Todo(todo_id, title, completed=done, version=1, owner_id=owner), position)


class Worker:
    """One worker's read model (its own caches and directories) on a shared fake database."""

    def __init__(self, database: FakeDatabase, clock: list[float] | None = None) -> None:
        now = clock if clock is not None else [0.0]
        view = DatabaseView(database)
        self.model = ReadModel(
            "mongodb://unused",
            "unused",
            open_database=lambda: cast(Any, view),
            clock=lambda: now[0],
        )
        self.pages = view[READ_MODEL_PAGES]

    async def walk(
        self, limit: int, completed: bool | None = None, owner: int = OWNER
    ) -> tuple[list[int], int]:
        """Follow one owner's list from the start to its last page: ids, and how many pages."""
        ids: list[int] = []
        after: int | None = None
        pages = 0
        while True:
            page = await self.model.list_page(
                owner_id=owner, completed=completed, after=after, limit=limit
            )
            pages += 1
            assert len(page.todos) <= limit
            ids.extend(t["id"] for t in page.todos)
            if page.next_after is None:
                return ids, pages
            assert after is None or page.next_after > after
            after = page.next_after

    async def page(self, owner: int = OWNER, **query: Any) -> Any:
        query = {"completed": None, "after": None, "limit": 100, **query}
        return await self.model.list_page(owner_id=owner, **query)


def _stored(database: FakeDatabase, owner: int = OWNER) -> dict[int, dict[str, Any]]:
    """The live todos the owner's bucket documents hold, by id."""
    return {
        t["id"]: t
        for document in database.collections.get(READ_MODEL_PAGES, {}).values()
        if document["owner_id"] == owner
        for t in unpack(document["todos"])
    }


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
    batch = {5: _projection(5, 1), big: _projection(big, 1), 6: _projection(6, 1, owner=OTHER)}
    await worker.model.write(batch)
    # one command per level, whatever the number of owners
    groups = [(OWNER, 0), (OWNER, 1), (OTHER, 0)]
    assert order == [
        f"{READ_MODEL_DIRECTORY}:{[directory_root_key(OWNER), directory_root_key(OTHER)]}",
        f"{READ_MODEL_DIRECTORY}:{[directory_group_key(o, g) for o, g in groups]}",
        f"{READ_MODEL_PAGES}:{[bucket_key(7, 0), bucket_key(7, bucket_of(big)), bucket_key(8, 0)]}",
    ]
    directory = database.collections[READ_MODEL_DIRECTORY]
    assert unpack(directory[directory_root_key(OWNER)]["groups"]) == [0, 1]
    assert unpack(directory[directory_group_key(OWNER, 1)]["buckets"]) == [bucket_of(big)]
    assert unpack(directory[directory_group_key(OTHER, 0)]["buckets"]) == [0]
    page = database.collections[READ_MODEL_PAGES][bucket_key(OTHER, 0)]
    todos = unpack(page["todos"])
    assert (page["owner_id"], page["bucket"], [t["id"] for t in todos]) == (OTHER, 0, [6])
    assert "owner_id" not in todos[0]  # the public shape, as answered


async def test_with_one_worker_its_cache_spares_the_read_before_each_write(database):
    worker = Worker(database)
    await worker.model.write({5: _projection(5, 1)})
    finds = worker.pages.finds
    for lsn in range(2, 6):
        assert await worker.model.write({5: _projection(5, lsn, f"v{lsn}")}) == 1
    assert worker.pages.finds == finds
    stored = database.collections[READ_MODEL_PAGES][bucket_key(OWNER, 0)]
    assert unpack(stored["todos"])[0]["title"] == "v5"
    assert database.collections[READ_MODEL_PAGES][bucket_key(OWNER, 0)]["_v"] == 5


async def test_redelivered_batches_leave_the_pages_unchanged(database):
    worker = Worker(database)
    batch = {i: _projection(i, 10, f"#{i}", owner=OWNER + i % 2) for i in range(1, 300)}
    await worker.model.write(batch)
    before = {k: dict(v) for k, v in database.collections[READ_MODEL_PAGES].items()}
    fresh = Worker(database)  # a restarted worker: empty caches
    assert await fresh.model.write(batch) == 0
    assert await worker.model.write(batch) == 0
    assert database.collections[READ_MODEL_PAGES] == before


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
            batch[todo_id] = _projection(todo_id, lsn, title, owner=OWNER + todo_id % 2)
            newest[todo_id] = batch[todo_id]
        batches.append((workers[lsn % 2], batch))
    # Interleaved: every write of one worker races the other's on the same few buckets.
    await asyncio.gather(*(worker.model.write(batch) for worker, batch in batches))
    for owner in (OWNER, OTHER):
        live = {
            i: p.todo.title
            for i, p in newest.items()
            if p.todo is not None and OWNER + i % 2 == owner
        }
        for worker in workers:
            ids, _ = await worker.walk(limit=50, owner=owner)
            assert ids == sorted(live)
        assert {i: t["title"] for i, t in _stored(database, owner).items()} == live


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
    await worker.model.write({i: _projection(i, 1, owner=OTHER) for i in range(1000, 2000)})
    finds = worker.pages.finds
    page = await worker.page()
    assert [t["id"] for t in page.todos] == list(range(1, 101)) and page.next_after == 100
    assert worker.pages.finds - finds == 1
    page = await worker.page(after=100)
    assert [t["id"] for t in page.todos] == list(range(101, 201))
    assert worker.pages.finds - finds == 3


async def test_a_page_spends_a_bounded_budget_of_buckets_and_its_link_goes_on(database):
    worker = Worker(database)
    ids = [b * BUCKET_SIZE + 1 for b in range(50)]
    await worker.model.write({i: _projection(i, 1) for i in ids})
    finds = worker.pages.finds
    page = await worker.page()
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
    await reader.page(limit=1)  # starts the reload

    async def both_listed() -> list[int] | None:
        ids, _ = await reader.walk(100)
        return ids if ids == [1, 5000] else None

    assert await async_wait_for(both_listed, timeout=5, message="reload") == [1, 5000]


def _change(
    todo_id: int, lsn: int, owner: int | None, *, before: int | None = None, title: str = "t"
) -> ChangeEvent:
    """A streamed change of one row: `owner` None with `title` "" is a delete."""
    after = None if title == "" else Todo(todo_id, title, version=1, owner_id=owner)
    return ChangeEvent(
        op="d" if after is None else "u",
        todo_id=todo_id,
        after=after,
        position=Position(lsn=lsn, streamed=True, version=1),
        before_owner_id=before,
    )


class Pipeline:
    """The CDC agent's path without Kafka: fold a batch against a table, write, keep the table."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.table: dict[int, Projection] = {}

    async def apply(self, *changes: ChangeEvent) -> None:
        moved = fold_changes(self.table.get, changes)
        await self.worker.model.write(moved)
        # the table keeps what `to_state` stores: `former_owners` is not part of it
        self.table.update({i: Projection.from_state(p.to_state()) for i, p in moved.items()})


async def test_a_reassigned_todo_leaves_the_old_owners_list_and_joins_the_new_ones(database):
    pipeline = Pipeline(Worker(database))
    await pipeline.apply(*(_change(i, 10, OWNER) for i in (1, 2, 3)))
    # the admin gives todo 2 to OTHER: the new row names OTHER, the old one OWNER
    await pipeline.apply(_change(2, 20, OTHER, before=OWNER, title="given"))
    assert (await pipeline.worker.walk(100))[0] == [1, 3]
    assert (await pipeline.worker.walk(100, owner=OTHER))[0] == [2]
    assert _stored(database, OTHER)[2]["title"] == "given"
    # a replayed older change (MongoDB ahead of the table) moves neither list back
    await pipeline.worker.model.write({2: _projection(2, 10, "old", owner=OWNER)})
    assert (await pipeline.worker.walk(100))[0] == [1, 3]
    # back and forth within one batch: every owner it passed through lets it go
    third = OTHER + 1
    await pipeline.apply(
        _change(2, 30, OWNER, before=OTHER), _change(2, 40, third, before=OWNER, title="third")
    )
    assert [(await pipeline.worker.walk(100, owner=o))[0] for o in (OWNER, OTHER, third)] == [
        [1, 3],
        [],
        [2],
    ]
    # the table's owner alone (no `before`) is enough, and a delete leaves its owner's list
    await pipeline.apply(_change(2, 50, OWNER), _change(3, 50, None, title="", before=OWNER))
    assert (await pipeline.worker.walk(100))[0] == [1, 2]
    assert (await pipeline.worker.walk(100, owner=third))[0] == []


async def test_a_todo_captured_without_an_owner_is_listed_for_nobody_until_it_has_one(database):
    pipeline = Pipeline(Worker(database))
    await pipeline.apply(_change(1, 10, None), _change(2, 10, OWNER))
    assert pipeline.table[1].todo is not None  # kept in the table
    assert (await pipeline.worker.walk(100))[0] == [2]
    assert all(d["owner_id"] == OWNER for d in database.collections[READ_MODEL_PAGES].values())
    # the migration's UPDATE re-captures the row with its owner
    await pipeline.apply(_change(1, 20, OWNER))
    assert (await pipeline.worker.walk(100))[0] == [1, 2]


@pytest.mark.parametrize("limit", [1, 7, 100, 1000])
async def test_walks_of_two_owners_with_alternating_ids_return_each_ones_todos_once_in_order(
    database, limit
):
    worker = Worker(database)
    rng = random.Random(limit)
    ids = list(range(1, 2000)) + sorted(rng.sample(range(2000, 10**6), 300))
    owner_of = {i: OWNER if i % 2 else OTHER for i in ids}
    await worker.model.write({i: _projection(i, 1, owner=owner_of[i]) for i in ids})
    for owner in (OWNER, OTHER):
        walked, pages = await worker.walk(limit, owner=owner)
        assert walked == [i for i in ids if owner_of[i] == owner]
        if limit == 1:
            assert pages >= len(walked)


async def test_a_walk_during_writes_deletes_and_reassignments_misses_no_todo_live_throughout(
    database,
):
    pipeline = Pipeline(Worker(database))
    rng = random.Random(11)
    ids = list(range(1, 1500))
    await pipeline.apply(*(_change(i, 1, OWNER if i % 2 else OTHER) for i in ids))
    stable = {i for i in ids if i % 2 and i % 5 != 0}  # OWNER's, never touched below
    walked: list[int] = []
    after: int | None = None
    lsn = 1
    while True:
        page = await pipeline.worker.page(after=after, limit=50)
        walked.extend(t["id"] for t in page.todos)
        if page.next_after is None:
            break
        after = page.next_after
        lsn += 1
        changes = []
        for i in rng.sample([i for i in ids if i % 5 == 0], 20):
            held = pipeline.table[i]
            owner = held.owner_id
            roll = rng.random()
            if roll < 0.3:
                changes.append(_change(i, lsn, None, title="", before=owner))
            elif roll < 0.6:
                moved_to = OTHER if owner == OWNER else OWNER
                changes.append(_change(i, lsn, moved_to, before=owner))
            else:
                changes.append(_change(i, lsn, OWNER, before=owner, title=f"@{lsn}"))
        changes.extend(_change(i, lsn, OTHER) for i in rng.sample(range(1500, 3000), 5))
        await pipeline.apply(*changes)
    assert walked == sorted(set(walked)), "each todo once, in id order"
    assert stable <= set(walked)
    assert all(i % 2 or i % 5 == 0 for i in walked), "none of OTHER's untouched todos"


async def test_another_workers_directory_of_an_owner_is_loaded_on_first_use(database):
    writer = Worker(database)
    await writer.model.write({5: _projection(5, 1, owner=OTHER), 9000: _projection(9000, 1)})
    reader = Worker(database)  # a restarted worker: no directory in memory
    assert (await reader.walk(100, owner=OTHER))[0] == [5]
    assert (await reader.walk(100))[0] == [9000]
    assert (await reader.walk(100, owner=OTHER + 1))[0] == []


async def test_the_migration_rebuilds_from_the_table_and_drops_every_earlier_layout(database):
    worker = Worker(database)
    # the unpacked layout (lists as BSON arrays), issue 11's pages and directory, and the
    # first per-todo collection
    unpacked_bucket = {"_id": bucket_key(OWNER, 0), "todos": [], "positions": {}}
    unpacked_root = {"_id": directory_root_key(OWNER), "groups": [0]}
    database.collections[UNPACKED_READ_MODEL_PAGES] = {unpacked_bucket["_id"]: unpacked_bucket}
    database.collections[UNPACKED_READ_MODEL_DIRECTORY] = {unpacked_root["_id"]: unpacked_root}
    database.collections[UNOWNED_READ_MODEL_PAGES] = {0: {"_id": 0, "todos": []}}
    database.collections[UNOWNED_READ_MODEL_DIRECTORY] = {-1: {"_id": -1, "groups": [0]}}
    database.collections[LEGACY_READ_MODEL_COLLECTION] = {1: {"_id": 1}}
    table = [
        (i, _projection(i, 1, None if i % 5 == 0 else "t", owner=OWNER if i % 2 else OTHER))
        for i in range(1, 10_000)
    ]
    table.append((10_000, _projection(10_000, 1, owner=None)))  # captured before owners
    assert await migrate_legacy_layout(worker.model, iter(table), worker.model.write) == 10_000
    assert set(database.collections) == {READ_MODEL_PAGES, READ_MODEL_DIRECTORY}
    assert (await worker.walk(1000))[0] == [i for i in range(1, 10_000, 2) if i % 5 != 0]
    assert (await worker.walk(1000, owner=OTHER))[0] == [
        i for i in range(2, 10_000, 2) if i % 5 != 0
    ]
    # again (e.g. an old collection reappeared): nothing moves, and it is dropped again
    database.collections[LEGACY_READ_MODEL_COLLECTION] = {}
    before = dict(database.collections[READ_MODEL_PAGES])
    await migrate_legacy_layout(worker.model, iter(table), worker.model.write)
    assert database.collections[READ_MODEL_PAGES] == before
    assert LEGACY_READ_MODEL_COLLECTION not in database.collections
    assert await migrate_legacy_layout(worker.model, iter(table), worker.model.write) is None


_DAMAGE = {
    "not text": lambda doc: {**doc, "todos": [1, 2]},
    "not JSON": lambda doc: {**doc, "todos": "[{"},
    "not a list": lambda doc: {**doc, "todos": '{"id": 5}'},
    "missing": lambda doc: {k: v for k, v in doc.items() if k != "todos"},
    "a todo without an id": lambda doc: {**doc, "todos": '[{"title": "x"}]'},
    "positions not a mapping": lambda doc: {**doc, "positions": "[]"},
}


async def _damaged(database: FakeDatabase, damage: str) -> str:
    """Write buckets 0 and 1 of OWNER, then damage bucket 0 the way `damage` names."""
    await Worker(database).model.write({5: _projection(5, 1), 130: _projection(130, 1)})
    key = bucket_key(OWNER, 0)
    pages = database.collections[READ_MODEL_PAGES]
    pages[key] = _DAMAGE[damage](pages[key])
    return key


@pytest.mark.parametrize("damage", sorted(_DAMAGE))
async def test_a_damaged_bucket_is_refused_by_name_and_the_other_buckets_are_written(
    database, damage
):
    key = await _damaged(database, damage)
    worker = Worker(database)  # no cached copy: it reads the damaged document
    with pytest.raises(DocumentsRefusedError) as refused:
        await worker.model.write({6: _projection(6, 2)})
    assert key in str(refused.value) and "read model document" in str(refused.value)
    assert await worker.model.write({131: _projection(131, 2, "next")}) == 1
    written = database.collections[READ_MODEL_PAGES][bucket_key(OWNER, 1)]
    assert [t["id"] for t in unpack(written["todos"])] == [130, 131]


@pytest.mark.parametrize("damage", ["not text", "not JSON", "not a list", "a todo without an id"])
async def test_a_page_leaves_out_a_damaged_bucket_says_so_and_lists_the_rest(
    database, damage, caplog
):
    key = await _damaged(database, damage)
    ids, _ = await Worker(database).walk(limit=100)
    assert ids == [130]
    assert any(key in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)


@pytest.mark.parametrize("damaged", ["root", "group"])
async def test_a_damaged_directory_is_logged_its_merge_refused_and_other_owners_written(
    database, damaged, caplog
):
    await Worker(database).model.write({5: _projection(5, 1)})
    directory = database.collections[READ_MODEL_DIRECTORY]
    key = directory_root_key(OWNER) if damaged == "root" else directory_group_key(OWNER, 0)
    field = "groups" if damaged == "root" else "buckets"
    directory[key] = {**directory[key], field: "not json"}
    worker = Worker(database)
    ids, _ = await worker.walk(limit=100)  # the page loads the directory: no crash, nothing listed
    assert ids == []
    assert any(key in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    with pytest.raises(DocumentsRefusedError, match=key):
        await worker.model.write({300: _projection(300, 2)})  # a new bucket: the directory grows
    assert await worker.model.write({301: _projection(301, 2, owner=OTHER)}) == 1
