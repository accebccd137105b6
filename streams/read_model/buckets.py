"""Bucket documents of the read model: their shape and the guarded merge.

Pure: no I/O. A bucket document holds one owner's live todos of one id bucket in the seed's
public shape, in id order, and the newest position of every todo the bucket has seen
(tombstones included, also of todos that moved to another owner), so a replayed or stale
change can never move a todo backwards. Both lists are packed as JSON text
(`contracts.stores.pack`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.stores import MalformedDocumentError, bucket_of, pack, unpack_field
from streams.domain import Projection

Document = dict[str, Any]
PublicTodo = dict[str, Any]


# (owner id, bucket): which document an entry goes to.
Place = tuple[int, int]


def by_bucket(projections: Mapping[int, Projection]) -> dict[Place, dict[int, Projection]]:
    """Group projections by (owner, bucket of their id): where each must be merged.

    A todo is live in its owner's bucket (none: listed for nobody) and a tombstone at the
    same position in the bucket of each former owner, which takes it out of that list.
    """
    grouped: dict[Place, dict[int, Projection]] = {}
    for todo_id, projection in projections.items():
        bucket = bucket_of(todo_id)
        owner = projection.owner_id
        if owner is not None:
            grouped.setdefault((owner, bucket), {})[todo_id] = projection
        if projection.former_owners:
            gone = Projection(todo=None, position=projection.position)
            for former in projection.former_owners - {owner}:
                grouped.setdefault((former, bucket), {})[todo_id] = gone
    return grouped


def merge_bucket(
    document: Mapping[str, Any] | None, projections: Mapping[int, Projection]
) -> Document | None:
    """Return the bucket's new `todos` and `positions` (packed), or None when nothing moves.

    Each entry changes only when its projection's position is newer than the one the bucket
    holds for that id (the per-entry position guard), so merging is idempotent.
    """
    positions: dict[str, str] = unpack_field(document, "positions", dict) if document else {}
    try:
        todos: dict[int, PublicTodo] = (
            {todo["id"]: todo for todo in unpack_field(document, "todos")} if document else {}
        )
    except (KeyError, TypeError) as exc:
        raise MalformedDocumentError(
            f"read model document {document and document.get('_id')!r}: a todo without an id"
        ) from exc
    changed = False
    for todo_id, projection in projections.items():
        key, position = str(todo_id), projection.position.key()
        if key in positions and positions[key] >= position:
            continue
        positions[key] = position
        if projection.todo is None:
            todos.pop(todo_id, None)
        else:
            todos[todo_id] = projection.todo.to_json()
        changed = True
    if not changed:
        return None
    return {
        "todos": pack([todos[todo_id] for todo_id in sorted(todos)]),
        "positions": pack(positions),
    }
