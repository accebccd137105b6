"""Names and shapes inside the stores that more than one component reads or writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

# The read model (docs/decisions/read-model-pages.md, read-model-owners.md): each owner's
# todos grouped into fixed id buckets, one document per (owner, bucket), found by `_id`
# equality (the one filter FerretDB 1.24 pushes down and serves from an index), plus a
# directory per owner of the buckets that exist. Their lists are packed (`pack`): see below.
#: Collection of bucket documents: `_id` is `bucket_key(owner, bucket)`, the live todos inside.
READ_MODEL_PAGES = "todo_packed_pages"
#: Collection of the directories: per owner one root listing groups, one document per group.
READ_MODEL_DIRECTORY = "todo_packed_directory"

# Earlier layouts: a worker that finds any of them rebuilds the read model from its table,
# then drops them.
#: The same layout with its lists as BSON arrays and sub-documents (before packing).
UNPACKED_READ_MODEL_PAGES = "todo_owner_pages"
UNPACKED_READ_MODEL_DIRECTORY = "todo_owner_directory"
#: Issue 11's bucket documents and directory (all todos, no owner).
UNOWNED_READ_MODEL_PAGES = "todo_pages"
UNOWNED_READ_MODEL_DIRECTORY = "todo_page_directory"
#: The per-todo collection of the first layout.
LEGACY_READ_MODEL_COLLECTION = "todos"
SUPERSEDED_READ_MODEL_COLLECTIONS = (
    UNPACKED_READ_MODEL_PAGES,
    UNPACKED_READ_MODEL_DIRECTORY,
    UNOWNED_READ_MODEL_PAGES,
    UNOWNED_READ_MODEL_DIRECTORY,
    LEGACY_READ_MODEL_COLLECTION,
)


# A read model document's lists (a bucket's todos and positions, a directory's members) are
# stored as one JSON string each: FerretDB 1.24 converts every value of a document between
# BSON and its PostgreSQL form on each read and write, so a bucket of 128 todos as
# sub-documents costs several times the same content as one string (see
# docs/decisions/packed-documents.md). Only `_id` and `_v` are ever queried.
def pack(value: Any) -> str:
    """Return the JSON text a read model document stores for a list or mapping."""
    return orjson.dumps(value).decode()


def unpack(text: str) -> Any:
    """Return the list or mapping a read model document's packed field holds."""
    return orjson.loads(text)


class MalformedDocumentError(ValueError):
    """A read model document lacks a packed field or holds one that is not its JSON text."""


def unpack_field(document: Mapping[str, Any], field: str, kind: type = list) -> Any:
    """Return `document[field]` unpacked; raise MalformedDocumentError naming the document.

    The fields are written only by `pack`, but a document edited by hand, or copied from an
    earlier layout, must fail as data the worker can name, not as a crash.
    """
    text = document.get(field)
    if not isinstance(text, str):
        raise MalformedDocumentError(
            f"read model document {document.get('_id')!r}: field {field!r} is"
            f" {type(text).__name__}, not packed JSON text"
        )
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise MalformedDocumentError(
            f"read model document {document.get('_id')!r}: field {field!r} is not JSON: {exc}"
        ) from exc
    if not isinstance(value, kind):
        raise MalformedDocumentError(
            f"read model document {document.get('_id')!r}: field {field!r} holds"
            f" {type(value).__name__}, not {kind.__name__}"
        )
    return value


#: Ids per bucket: bucket `b` holds ids `b * BUCKET_SIZE` to `(b + 1) * BUCKET_SIZE - 1`.
BUCKET_SIZE = 128
#: Buckets per directory group: group `g` lists the existing buckets `g * GROUP_SIZE` onwards.
GROUP_SIZE = 1024


def bucket_of(todo_id: int) -> int:
    """Return the bucket a todo id belongs to."""
    return todo_id // BUCKET_SIZE


def group_of(bucket: int) -> int:
    """Return the directory group a bucket belongs to."""
    return bucket // GROUP_SIZE


def bucket_last_id(bucket: int) -> int:
    """Return the highest todo id a bucket can hold."""
    return (bucket + 1) * BUCKET_SIZE - 1


# Every `_id` is a string naming its owner first: one scalar, so a find stays an equality.
def bucket_key(owner_id: int, bucket: int) -> str:
    """Return the `_id` of an owner's bucket document."""
    return f"{owner_id}:{bucket}"


def directory_root_key(owner_id: int) -> str:
    """Return the `_id` of an owner's directory root (it lists the owner's groups)."""
    return f"{owner_id}:root"


def directory_group_key(owner_id: int, group: int) -> str:
    """Return the `_id` of an owner's directory group (it lists the group's buckets)."""
    return f"{owner_id}:g{group}"
