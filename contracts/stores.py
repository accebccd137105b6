"""Names and shapes inside the stores that more than one component reads or writes."""

from __future__ import annotations

# The read model (docs/decisions/read-model-pages.md): todos grouped into fixed id buckets,
# one document per bucket, found by `_id` equality (the one filter FerretDB 1.24 pushes down
# and serves from an index), plus a directory of the buckets that exist.
#: Collection of bucket documents: `_id` is the bucket number, the live todos inside in id order.
READ_MODEL_PAGES = "todo_pages"
#: Collection of the directory: one document per group of buckets, and one root listing groups.
READ_MODEL_DIRECTORY = "todo_page_directory"
#: The per-todo collection of the first layout; a worker that finds it migrates and drops it.
LEGACY_READ_MODEL_COLLECTION = "todos"

#: Ids per bucket: bucket `b` holds ids `b * BUCKET_SIZE` to `(b + 1) * BUCKET_SIZE - 1`.
BUCKET_SIZE = 128
#: Buckets per directory group: group `g` lists the existing buckets `g * GROUP_SIZE` onwards.
GROUP_SIZE = 1024
#: `_id` of the directory's root document (group documents have `_id` >= 0).
DIRECTORY_ROOT_ID = -1


def bucket_of(todo_id: int) -> int:
    """Return the bucket a todo id belongs to."""
    return todo_id // BUCKET_SIZE


def group_of(bucket: int) -> int:
    """Return the directory group a bucket belongs to."""
    return bucket // GROUP_SIZE


def bucket_last_id(bucket: int) -> int:
    """Return the highest todo id a bucket can hold."""
    return (bucket + 1) * BUCKET_SIZE - 1
