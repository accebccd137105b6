"""The list through the whole stack: rows written to PostgreSQL reach the pages by CDC.

Rows are written with chosen ids by SQL (gaps wider than a bucket and than a directory group),
above every id the sequence handed out, and the sequence is moved past them first; each is
owned by the pipeline's user, whose list the walks read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pytest

from contracts.records import Position
from contracts.stores import (
    BUCKET_SIZE,
    GROUP_SIZE,
    LEGACY_READ_MODEL_COLLECTION,
    SUPERSEDED_READ_MODEL_COLLECTIONS,
    UNPACKED_READ_MODEL_DIRECTORY,
    UNPACKED_READ_MODEL_PAGES,
    bucket_key,
    bucket_of,
    directory_group_key,
    directory_root_key,
    group_of,
    unpack,
)
from tests.support.polling import wait_for

GROUP_SPAN = GROUP_SIZE * BUCKET_SIZE  # ids one directory group covers


def _insert(pipeline, ids: Iterable[int], *, completed=lambda i: False, title="row") -> None:
    rows = [(i, f"{title} {i}", f"#{i}", bool(completed(i)), pipeline.owner_id) for i in ids]
    with pipeline.pg() as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO todos (id, title, description, completed, created_at, updated_at,"
            " version, owner_id) VALUES (%s, %s, %s, %s, now(), now(), 1, %s)",
            rows,
        )


def _delete(pipeline, ids: Iterable[int]) -> None:
    with pipeline.pg() as conn:
        conn.execute("DELETE FROM todos WHERE id = ANY(%s)", (list(ids),))


def _walk(pipeline, limit: int, completed: bool | None = None) -> tuple[list[int], int]:
    """Follow the list's Links from its first page: the ids in order, and how many pages."""
    query = f"limit={limit}" + ("" if completed is None else f"&completed={str(completed).lower()}")
    url: str | None = f"{pipeline.read_url}/api/todos/?{query}"
    ids: list[int] = []
    pages = 0
    while url:
        response = pipeline.http.get(url, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body) <= limit
        ids.extend(t["id"] for t in body)
        pages += 1
        url = response.links.get("next", {}).get("url")
    return ids, pages


def _walk_matches_postgres(pipeline):
    def probe() -> list[int] | None:
        expected = pipeline.pg_ids()
        return expected if _walk(pipeline, 1000)[0] == expected else None

    return probe


def test_paging_through_sparse_buckets_returns_every_live_todo_once_in_order(pipeline):
    base = pipeline.fresh_id_base(GROUP_SPAN)
    dense = [base + 10**7 + k for k in range(300)]
    emptied = [base + 300, base + 301, base + 302]  # the only rows of their bucket
    ids = [base + 5, *emptied, base + 200_000, base + 2 * GROUP_SPAN + 7, *dense]
    _insert(pipeline, ids, completed=lambda i: i % 3 == 0)
    _delete(pipeline, [*emptied, *dense[::10]])
    expected = wait_for(
        _walk_matches_postgres(pipeline), timeout=60, message="the rows in the list"
    )
    assert not set(emptied) & set(expected) and base + 200_000 in expected
    live_here = [i for i in expected if i >= base]
    assert bucket_of(live_here[1]) - bucket_of(live_here[0]) > GROUP_SIZE  # a group's gap
    for limit in (1, 7, 100, 1000):
        walked, pages = _walk(pipeline, limit)
        assert walked == expected, limit
        assert pages >= len(expected) // limit
    for completed in (True, False):
        assert _walk(pipeline, 7, completed)[0] == pipeline.pg_ids(completed)
    # The bucket whose rows were all deleted stays and reads as empty.
    _, bucket = pipeline.mongo_bucket_of(base + 300)
    assert unpack(bucket["todos"]) == [] and len(unpack(bucket["positions"])) == 3
    # The seed's call: the first page, no parameters.
    first = pipeline.read("/todos/")
    assert first.status_code == 200 and [t["id"] for t in first.json()] == expected[:100]


def test_a_walk_during_writes_returns_the_todos_live_throughout_once_in_order(pipeline):
    base = pipeline.fresh_id_base(GROUP_SPAN)
    stable = [base + 2 * k for k in range(400)]  # updated during the walk, never deleted
    gone = [base + 2000 + k for k in range(200)]  # deleted before the walk starts
    _insert(pipeline, [*stable, *gone])
    _delete(pipeline, gone)
    wait_for(_walk_matches_postgres(pipeline), timeout=60, message="the rows in the list")

    stop = threading.Event()
    churned: list[int] = []

    def churn() -> None:
        # Creates between the stable ids, deletes of those, updates of stable ones.
        n = 0
        with pipeline.pg() as conn:
            while not stop.is_set():
                odd = base + 2 * (n % 400) + 1
                if odd in churned:
                    conn.execute("DELETE FROM todos WHERE id = %s", (odd,))
                    churned.remove(odd)
                else:
                    conn.execute(
                        "INSERT INTO todos (id, title, description, completed, created_at,"
                        " updated_at, version, owner_id)"
                        " VALUES (%s, 'churn', '', false, now(), now(), 1, %s)",
                        (odd, pipeline.owner_id),
                    )
                    churned.append(odd)
                conn.execute(
                    "UPDATE todos SET title = %s, version = version + 1 WHERE id = %s",
                    (f"updated {n}", stable[(n * 7) % 400]),
                )
                n += 1

    writer = threading.Thread(target=churn)
    writer.start()
    try:
        walks = [_walk(pipeline, limit)[0] for limit in (7, 100, 7)]
    finally:
        stop.set()
        writer.join(30)
    assert churned, "the churn wrote nothing"
    for walked in walks:
        assert walked == sorted(set(walked))  # each todo once, in id order
        assert set(stable) <= set(walked)
        assert not set(gone) & set(walked)
    wait_for(_walk_matches_postgres(pipeline), timeout=60, message="the list settled")


def test_a_redelivered_change_leaves_its_bucket_document_unchanged(pipeline):
    base = pipeline.fresh_id_base(GROUP_SPAN)
    ids = [base + k * BUCKET_SIZE for k in range(1, 33)]  # one per bucket
    _insert(pipeline, ids)
    wait_for(_walk_matches_postgres(pipeline), timeout=60, message="the rows in the list")
    records = [r for r in pipeline.records("postgres.public.todos") if r.value() is not None]
    partitions = {int(r.key()): r.partition() for r in records if int(r.key()) in ids}
    todo = ids[0]
    marker = next(i for i in ids[1:] if partitions[i] == partitions[todo])
    pages, before = pipeline.mongo_bucket_of(todo)
    for record in records:
        if int(record.key()) == todo:
            pipeline.produce("postgres.public.todos", record.key(), record.value())
    # A later change on the same partition: once it shows, the replayed ones were consumed.
    with pipeline.pg() as conn:
        conn.execute("UPDATE todos SET title = 'marker', version = 2 WHERE id = %s", (marker,))
    pipeline.wait_todo(marker, lambda t: t["title"] == "marker")
    assert pages.find_one({"_id": before["_id"]}) == before


def _legacy_document(todo: dict[str, Any], lsn: int) -> dict[str, Any]:
    """A document of the first layout (one per todo), as the previous version wrote it."""
    position = Position(lsn=lsn, streamed=True, version=1).key()
    public = {k: v for k, v in todo.items() if k != "id"}
    return {"_id": todo["id"], **public, "deleted": False, "_pos": position}


def _write_legacy_layout(database: Any, owner_id: int, todos: list[dict[str, Any]]) -> str:
    """Store `todos` in the first layout, one document per todo; return its collection."""
    database[LEGACY_READ_MODEL_COLLECTION].insert_many([_legacy_document(t, 1) for t in todos])
    return LEGACY_READ_MODEL_COLLECTION


def _write_unpacked_layout(database: Any, owner_id: int, todos: list[dict[str, Any]]) -> str:
    """Store `todos` as the unpacked buckets (BSON arrays) and their directory; return pages."""
    position = Position(lsn=1, streamed=True, version=1).key()
    buckets: dict[int, list[dict[str, Any]]] = {}
    for todo in sorted(todos, key=lambda t: t["id"]):
        buckets.setdefault(bucket_of(todo["id"]), []).append(todo)
    database[UNPACKED_READ_MODEL_PAGES].insert_many(
        [
            {
                "_id": bucket_key(owner_id, bucket),
                "owner_id": owner_id,
                "bucket": bucket,
                "todos": members,
                "positions": {str(t["id"]): position for t in members},
                "_v": 1,
            }
            for bucket, members in buckets.items()
        ]
    )
    groups: dict[int, list[int]] = {}
    for bucket in buckets:
        groups.setdefault(group_of(bucket), []).append(bucket)
    database[UNPACKED_READ_MODEL_DIRECTORY].insert_many(
        [{"_id": directory_root_key(owner_id), "groups": sorted(groups), "_v": 1}]
        + [
            {"_id": directory_group_key(owner_id, group), "buckets": sorted(members), "_v": 1}
            for group, members in groups.items()
        ]
    )
    return UNPACKED_READ_MODEL_PAGES


@pytest.mark.disruptive
@pytest.mark.parametrize(
    "write_layout",
    [_write_legacy_layout, _write_unpacked_layout],
    ids=["per-todo", "unpacked-buckets"],
)
def test_a_read_model_in_an_earlier_layout_is_rebuilt_as_packed_pages_on_upgrade(
    pipeline, stack, write_layout
):
    expected = wait_for(_walk_matches_postgres(pipeline), timeout=60, message="settled")
    live = {t["id"]: t for t in pipeline.list_all()}
    stack.stop("streams")
    database = pipeline.mongo_db
    for name in database.list_collection_names():  # whatever the current layout's names
        database.drop_collection(name)
    # Only in the old layout: the rebuild reads the table, so this must not come back.
    ghost = {"id": 9 * 10**15, "title": "old layout only", "description": "", "completed": False}
    old = write_layout(database, pipeline.owner_id, [*live.values(), ghost])
    stack.start("streams")
    stack.wait_ready("streams")

    def migrated() -> bool:
        names = database.list_collection_names()
        return old not in names and _walk(pipeline, 1000)[0] == expected

    wait_for(migrated, timeout=120, message="pages rebuilt and the old layout dropped")
    assert not set(database.list_collection_names()) & set(SUPERSEDED_READ_MODEL_COLLECTIONS)
    assert [t["id"] for t in pipeline.list_all()] == expected
    assert {t["id"]: t for t in pipeline.list_all()} == live
    assert _walk(pipeline, 7)[0] == expected
