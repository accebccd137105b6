"""The list's cache of rendered buckets: its bound, its exactness rule, and its pages."""

from __future__ import annotations

import random
import tracemalloc
from typing import Any, cast

import orjson
import pytest
from faust.types import TP

from contracts import stores, topics
from contracts.records import Todo
from contracts.stores import BUCKET_SIZE, READ_MODEL_PAGES, bucket_key, pack, unpack
from streams.read_model import ReadModel
from streams.read_model.page_cache import PageCache, RenderedBucket, sole_writer_epoch
from streams.settings import load_settings
from tests.support.read_model import SAMPLE_OWNER, projection
from tests.unit.streams.fake_mongo import DatabaseView, FakeDatabase

EPOCH = 3
OWNER = SAMPLE_OWNER


def _document(bucket: int, version: int, *titles: str) -> dict[str, Any]:
    todos = [
        {"id": bucket * BUCKET_SIZE + k, "title": title, "completed": False}
        for k, title in enumerate(titles)
    ]
    return {"_id": _key(bucket), "_v": version, "todos": pack(todos)}


def _key(bucket: int, owner: int = OWNER) -> str:
    return bucket_key(owner, bucket)


class Worker:
    """A read model on a fake database, its page cache wired to its writer as in production."""

    def __init__(self, database: FakeDatabase, cache_bytes: int) -> None:
        view = DatabaseView(database)
        self.model = ReadModel(
            "mongodb://unused",
            "unused",
            page_cache_bytes=cache_bytes,
            open_database=lambda: cast(Any, view),
        )
        self.pages = view[READ_MODEL_PAGES]

    async def page(self, epoch: int | None = EPOCH, **query: Any) -> Any:
        query = {"completed": None, "after": None, "limit": 100, **query}
        return await self.model.list_page(owner_id=OWNER, writer_epoch=epoch, **query)


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


def test_entries_beyond_the_byte_bound_go_least_recently_used_first():
    one = RenderedBucket.of(_key(0), _document(0, 1, "a" * 100))
    cache = PageCache(capacity=2 * one.size + 10)
    cache.serving(EPOCH)
    for bucket in (0, 1):
        cache.written(_document(bucket, 1, "a" * 100))
    assert set(cache.get_many([_key(0)])) == {_key(0)}  # 0 is now the most recently used
    cache.written(_document(2, 1, "a" * 100))
    held = cache.get_many([_key(0), _key(1), _key(2)])
    assert set(held) == {_key(0), _key(2)}
    assert cache.bytes == sum(entry.size for entry in held.values()) <= cache.capacity
    cache.written(_document(3, 1, "b" * 10_000))  # larger than the whole cache
    assert _key(3) not in cache.get_many([_key(3)]) and cache.bytes <= cache.capacity


def test_an_entry_costs_about_the_bytes_it_is_counted_for():
    # Packed before tracing: the document's own string is not the entry's to count.
    todos = pack(
        [
            Todo(i, f"seed {i}", description="seeded", completed=i % 2 == 0, version=1).to_json()
            for i in range(100_000, 100_000 + BUCKET_SIZE)
        ]
    )
    tracemalloc.start()
    try:
        entry = RenderedBucket.of(_key(781), {"_v": 1, "todos": todos})
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # Not what `unpack` allocated: the entry keeps none of the decoded list, but the
    # interpreter's dict freelist keeps some of its freed dicts, still counted as traced.
    decoded = tracemalloc.Filter(False, stores.__file__)
    held = sum(stat.size for stat in snapshot.filter_traces([decoded]).statistics("filename"))
    assert 0.8 * entry.size <= held <= 1.2 * entry.size


def test_a_local_write_replaces_the_entry_and_an_older_read_cannot_bring_it_back():
    cache = PageCache(capacity=1 << 20)
    assert cache.serving(EPOCH)
    assert cache.fill(RenderedBucket.of(_key(0), _document(0, 4, "old")), epoch=EPOCH)
    cache.written(_document(0, 5, "new"))
    assert cache.get_many([_key(0)])[_key(0)].joined == b'{"id":0,"title":"new","completed":false}'
    # A page's find that began before the write and answers after it.
    assert not cache.fill(RenderedBucket.of(_key(0), _document(0, 4, "old")), epoch=EPOCH)
    cache.clear()  # even with the entry gone, the written version is the floor
    assert not cache.fill(RenderedBucket.of(_key(0), _document(0, 4, "old")), epoch=EPOCH)
    assert cache.fill(RenderedBucket.of(_key(0), _document(0, 5, "new")), epoch=EPOCH)


def test_no_serving_unless_the_sole_writer_and_any_other_epoch_clears_the_entries():
    cache = PageCache(capacity=1 << 20)
    assert cache.serving(EPOCH)
    cache.written(_document(0, 1, "a"))
    assert not cache.serving(None) and len(cache) == 0
    cache.written(_document(0, 2, "b"))
    assert cache.serving(EPOCH) and len(cache) == 0  # back as the sole writer: start empty
    assert not cache.fill(RenderedBucket.of(_key(1), _document(1, 1, "x")), epoch=EPOCH - 1)
    cache.written(_document(0, 3, "c"))
    assert cache.serving(EPOCH + 1) and len(cache) == 0
    off = PageCache(capacity=0)
    off.written(_document(0, 1, "a"))
    assert not off.serving(EPOCH) and len(off) == 0


async def test_a_page_is_answered_from_cached_buckets_and_a_local_write_shows_at_once(database):
    worker = Worker(database, cache_bytes=1 << 20)
    await worker.page()  # the sole writer in this epoch from now on: its writes are cached
    await worker.model.write({i: projection(i, 1, f"#{i}") for i in range(1, 300)})
    finds = worker.pages.finds
    first = await worker.page(after=100)  # two buckets, both written by this worker
    assert [t["id"] for t in first.todos] == list(range(101, 201))
    assert worker.pages.finds == finds
    await worker.model.write({150: projection(150, 2, "renamed"), 160: projection(160, 2, None)})
    again = await worker.page(after=100)
    assert worker.pages.finds == finds
    titles = {t["id"]: t["title"] for t in again.todos}
    assert titles[150] == "renamed" and 160 not in titles


async def test_not_the_sole_writer_every_page_reads_mongodb(database):
    worker = Worker(database, cache_bytes=1 << 20)
    await worker.model.write({i: projection(i, 1, f"#{i}") for i in range(1, 100)})
    # Another writer moves the bucket on: this worker does not see it through its writer.
    stored = database.collections[READ_MODEL_PAGES][_key(0)]
    todos = unpack(stored["todos"])
    todos[0] = {**todos[0], "title": "by another worker"}
    stored["todos"] = pack(todos)
    stored["_v"] += 1
    finds = worker.pages.finds
    page = await worker.page(epoch=None)
    assert page.todos[0]["title"] == "by another worker" and worker.pages.finds == finds + 1
    assert len(worker.model.page_cache) == 0


async def test_a_bucket_read_from_mongodb_fills_the_cache_for_the_next_page(database):
    writer, reader = Worker(database, cache_bytes=0), Worker(database, cache_bytes=1 << 20)
    await writer.model.write({i: projection(i, 1) for i in range(1, 100)})
    await reader.page()
    finds = reader.pages.finds
    assert [t["id"] for t in (await reader.page()).todos] == list(range(1, 100))
    assert reader.pages.finds == finds


class _Assignor:
    def __init__(self, actives: set[TP]) -> None:
        self.actives = actives

    def assigned_actives(self) -> set[TP]:
        return self.actives


class _App:
    def __init__(self, partitions: list[int], *, rebalancing: bool = False) -> None:
        tps = {TP(topics.CHANGES, p) for p in partitions} | {TP(topics.COMMANDS, 0)}
        self.assignor = _Assignor(tps)
        self.rebalancing = rebalancing
        self.rebalancing_count = 7


def test_the_sole_writer_holds_every_partition_of_the_cdc_topic_outside_a_rebalance():
    assert sole_writer_epoch(_App([0, 1, 2, 3]), topics.CHANGES, 4) == 7
    assert sole_writer_epoch(_App([0, 1, 3]), topics.CHANGES, 4) is None
    assert sole_writer_epoch(_App([0, 1, 2, 3], rebalancing=True), topics.CHANGES, 4) is None
    assert sole_writer_epoch(_App([]), topics.CHANGES, 4) is None
    assert sole_writer_epoch(object(), topics.CHANGES, 4) is None


def test_the_page_cache_setting_defaults_to_128_mb_and_0_turns_it_off():
    env = {
        "KAFKA_BROKER_URL": "k:9092",
        "POSTGRES_HOST": "h",
        "POSTGRES_PORT": "5432",
        "POSTGRES_DB": "d",
        "POSTGRES_USER": "u",
        "POSTGRES_PASSWORD": "p",
        "MONGO_URL": "mongodb://m",
        "MONGO_DB": "db",
        "READ_API_PORT": "1",
        "TOPIC_PARTITIONS": "4",
    }
    assert load_settings(env).page_cache_mb == 128
    assert load_settings({**env, "STREAMS_PAGE_CACHE_MB": "0"}).page_cache_mb == 0
    with pytest.raises(ValueError, match="STREAMS_PAGE_CACHE_MB"):
        load_settings({**env, "STREAMS_PAGE_CACHE_MB": "-1"})


@pytest.mark.parametrize("seed", range(6))
async def test_pages_from_cached_buckets_equal_pages_read_from_mongodb(database, seed):
    rng = random.Random(seed)
    cached, uncached = Worker(database, cache_bytes=1 << 22), Worker(database, cache_bytes=0)
    ids = sorted(rng.sample(range(1, 40 * BUCKET_SIZE), rng.randrange(50, 1500)))
    hits = 0
    for lsn in range(1, 5):
        # Creates, then updates and deletes, written by the cached worker between its pages.
        chosen = ids if lsn == 1 else rng.sample(ids, len(ids) // 4)
        await cached.model.write(
            {
                i: projection(
                    i, lsn, None if lsn > 1 and rng.random() < 0.3 else f"{i}@{lsn}",
                    done=rng.random() < 0.5,
                )
                for i in chosen
            }
        )  # fmt: skip
        for _ in range(20):
            query = {
                "after": rng.choice([None, 0, *ids, rng.randrange(0, 41 * BUCKET_SIZE)]),
                "limit": rng.choice([1, 7, 100, 128, 1000]),
                "completed": rng.choice([None, True, False]),
            }
            expected = await uncached.page(epoch=None, **query)
            _assert_a_page_of(database, expected, **query)
            for _ in range(2):  # cold or from entries, then surely from entries
                finds = cached.pages.finds
                page = await cached.page(**query)
                assert page.body() == expected.body(), query
                assert page.next_after == expected.next_after, query
            hits += cached.pages.finds == finds
    assert hits == 80  # every second page was answered without a find


def _assert_a_page_of(database: FakeDatabase, page: Any, *, after, limit, completed) -> None:
    """Check a page against the stored documents themselves, todo by todo."""
    live = sorted(
        (t for d in database.collections[READ_MODEL_PAGES].values() for t in unpack(d["todos"])),
        key=lambda t: t["id"],
    )
    wanted = [
        t
        for t in live
        if t["id"] > (after or 0) and (completed is None or t["completed"] is completed)
    ]
    assert len(page.ids) <= limit and page.body() == orjson.dumps(wanted[: len(page.ids)])
    assert page.ids == [t["id"] for t in page.todos]
    if page.next_after is None:
        assert len(page.ids) == len(wanted)
    else:
        assert [t["id"] for t in wanted if t["id"] <= page.next_after] == page.ids
