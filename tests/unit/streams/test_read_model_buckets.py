"""Bucket documents: the per-todo position guard of the merge, and pages built from buckets."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from contracts.records import Position, Todo
from contracts.stores import BUCKET_SIZE, bucket_last_id, pack, unpack
from streams.domain import Projection
from streams.read_model.buckets import by_bucket, merge_bucket
from streams.read_model.page_cache import RenderedBucket
from streams.read_model.pages import assemble_page


def _projection(
    todo_id: int, lsn: int, title: str | None = "t", done: bool = False, owner: int | None = 7
) -> Projection:
    todo = (
        None if title is None else Todo(todo_id, title, completed=done, version=1, owner_id=owner)
    )
    return Projection(todo=todo, position=Position(lsn=lsn, streamed=True, version=1))


def test_projections_are_grouped_by_owner_and_the_bucket_of_their_id():
    grouped = by_bucket(
        {
            1: _projection(1, 1),
            130: _projection(130, 1),
            2: _projection(2, 1, owner=8),
            3: _projection(3, 1, owner=None),  # captured before owners: listed for nobody
        }
    )
    assert {place: sorted(members) for place, members in grouped.items()} == {
        (7, 0): [1],
        (7, 1): [130],
        (8, 0): [2],
    }


def test_a_todo_leaving_owners_is_a_tombstone_at_its_position_in_each_of_their_buckets():
    moved = replace(_projection(5, 9, owner=8), former_owners=frozenset({7, 9}))
    deleted = Projection(todo=None, position=moved.position, former_owners=frozenset({7}))
    grouped = by_bucket({5: moved, 200: deleted})
    assert grouped[(8, 0)] == {5: moved}
    tombstone = Projection(todo=None, position=moved.position)
    assert grouped[(7, 0)] == grouped[(9, 0)] == {5: tombstone}
    assert grouped[(7, 1)] == {200: tombstone}
    assert set(grouped) == {(8, 0), (7, 0), (9, 0), (7, 1)}


def test_a_new_bucket_holds_its_todos_in_id_order_in_public_shape():
    merged = merge_bucket(None, {9: _projection(9, 5, "nine"), 3: _projection(3, 5, "three")})
    assert merged is not None
    # Both lists are stored as one JSON string each, not as BSON arrays and sub-documents.
    assert isinstance(merged["todos"], str) and isinstance(merged["positions"], str)
    todos = unpack(merged["todos"])
    assert [t["id"] for t in todos] == [3, 9]
    assert todos[0] == Todo(3, "three", version=1).to_json()
    assert unpack(merged["positions"]) == {
        "3": _projection(3, 5).position.key(),
        "9": _projection(9, 5).position.key(),
    }


def test_an_entry_moves_only_forward_and_a_replay_changes_nothing():
    first = merge_bucket(None, {3: _projection(3, 10, "new"), 4: _projection(4, 10)})
    assert first is not None
    assert merge_bucket(first, {3: _projection(3, 10, "same position")}) is None
    assert merge_bucket(first, {3: _projection(3, 9, "older")}) is None
    moved = merge_bucket(first, {3: _projection(3, 9, "older"), 4: _projection(4, 11, "four")})
    assert moved is not None
    assert [(t["id"], t["title"]) for t in unpack(moved["todos"])] == [(3, "new"), (4, "four")]


def test_a_delete_leaves_a_tombstone_that_an_older_create_cannot_undo():
    created = merge_bucket(None, {3: _projection(3, 10), 5: _projection(5, 10)})
    deleted = merge_bucket(created, {3: _projection(3, 20, None)})
    assert deleted is not None
    assert [t["id"] for t in unpack(deleted["todos"])] == [5]
    assert "3" in unpack(deleted["positions"])
    assert merge_bucket(deleted, {3: _projection(3, 15, "resurrected")}) is None


def _ids(bucket: RenderedBucket, positions: list[int]) -> list[int]:
    return [bucket.ids[i] for i in positions]


def test_matches_keeps_ids_after_and_the_completed_filter():
    todos: list[dict[str, Any]] = [{"id": i, "completed": i % 2 == 0} for i in (1, 2, 3, 4)]
    bucket = RenderedBucket.of("7:0", {"todos": pack(todos)})
    assert _ids(bucket, bucket.matches(after=1, completed=None)) == [2, 3, 4]
    assert _ids(bucket, bucket.matches(after=0, completed=True)) == [2, 4]
    assert _ids(bucket, bucket.matches(after=2, completed=False)) == [3]
    assert bucket.matches(after=4, completed=None) == []


def _bucket(*ids: int) -> RenderedBucket:
    return RenderedBucket.of("7:0", {"todos": pack([{"id": i, "completed": False} for i in ids])})


def test_a_page_with_more_matches_than_its_limit_ends_at_its_last_todo():
    page = assemble_page(
        [(0, _bucket(1, 2, 3)), (1, _bucket(130))], after=0, completed=None, limit=3,
        exhausted=False,
    )  # fmt: skip
    assert [t["id"] for t in page.todos] == [1, 2, 3]
    assert page.next_after == 3


def test_a_short_page_with_buckets_left_continues_after_its_last_bucket():
    page = assemble_page(
        [(0, _bucket(5)), (2, None), (7, _bucket())], after=0, completed=None, limit=10,
        exhausted=False,
    )  # fmt: skip
    assert [t["id"] for t in page.todos] == [5]
    assert page.next_after == bucket_last_id(7) == 8 * BUCKET_SIZE - 1


def test_the_last_page_has_no_next():
    page = assemble_page([(0, _bucket(5, 6))], after=5, completed=None, limit=1, exhausted=True)
    assert [t["id"] for t in page.todos] == [6] and page.next_after is None
    empty = assemble_page([], after=0, completed=None, limit=100, exhausted=True)
    assert empty.todos == [] and empty.next_after is None and empty.body() == b"[]"


def test_a_page_body_is_the_json_array_of_its_todos():
    page = assemble_page([(0, _bucket(5, 6))], after=0, completed=None, limit=10, exhausted=True)
    assert page.body() == b'[{"id":5,"completed":false},{"id":6,"completed":false}]'
    assert page.ids == [5, 6]
