"""The list's page cache through the whole stack: it answers, and never lags the projection.

The stack's one worker holds every partition of the CDC topic, so its list is served from its
cache of rendered buckets. The CDC agent writes MongoDB (and that cache) before the table, so
once a change is readable by id the very next list must show it.
"""

from __future__ import annotations

from typing import Any

from contracts.stores import BUCKET_SIZE, pack, unpack
from tests.support.polling import wait_for


def _page(pipeline, after: int, limit: int, completed: bool | None = None) -> list[dict[str, Any]]:
    query = f"after={after}&limit={limit}"
    if completed is not None:
        query += f"&completed={str(completed).lower()}"
    response = pipeline.read(f"/api/todos/?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body: list[dict[str, Any]] = response.json()
    return body


def test_a_listed_todo_updated_or_deleted_by_sql_shows_in_the_next_list(pipeline):
    base = pipeline.fresh_id_base(BUCKET_SIZE)
    ids = [base + k for k in range(2 * BUCKET_SIZE + 10)]  # three buckets
    with pipeline.pg() as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO todos (id, title, description, completed, created_at, updated_at,"
            " version, owner_id) VALUES (%s, %s, %s, false, now(), now(), 1, %s)",
            [(i, f"row {i}", f"#{i}", pipeline.owner_id) for i in ids],
        )
    after = base - 1
    wait_for(
        lambda: [t["id"] for t in _page(pipeline, after, 1000)] == ids,
        timeout=60,
        message="the rows in the list",
    )
    # The list is answered from the worker's cache: a bucket document changed behind the
    # worker's back (not by its writer) is not what the next list shows.
    pages, document = pipeline.mongo_bucket_of(ids[0])
    bucket = document["_id"]
    todos = unpack(document["todos"])
    todos[0]["title"] = "behind the worker's back"
    document["todos"] = pack(todos)
    pages.replace_one({"_id": bucket}, document)  # `_v` unchanged: the writer's CAS still holds
    assert _page(pipeline, after, 1000)[0]["title"] == f"row {ids[0]}"

    updated, deleted = ids[0], ids[BUCKET_SIZE + 3]
    with pipeline.pg() as conn:
        conn.execute(
            "UPDATE todos SET title = 'renamed', completed = true, version = version + 1,"
            " updated_at = now() WHERE id = %s",
            (updated,),
        )
        conn.execute("DELETE FROM todos WHERE id = %s", (deleted,))
    pipeline.wait_todo(updated, lambda todo: todo["title"] == "renamed")
    pipeline.wait_gone(deleted)

    listed = _page(pipeline, after, 1000)
    assert [t["id"] for t in listed] == [i for i in ids if i != deleted]
    assert listed[0]["title"] == "renamed" and listed[0]["completed"] is True
    assert listed[0] == pipeline.read(f"/api/todos/{updated}/").json()
    assert [t["id"] for t in _page(pipeline, after, 1000, completed=True)] == [updated]
    # The cached bucket is the one the writer wrote: it replaced the altered document too.
    stored = pages.find_one({"_id": bucket})
    assert stored is not None and unpack(stored["todos"])[0]["title"] == "renamed"
    # A page starting mid-bucket, with a Link, from the same cached buckets.
    response = pipeline.read(f"/api/todos/?after={ids[5]}&limit=3")
    assert [t["id"] for t in response.json()] == ids[6:9]
    assert response.links["next"]["url"].endswith(f"after={ids[8]}&limit=3")
