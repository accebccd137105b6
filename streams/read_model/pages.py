"""The list's page walk: the directory's buckets in order, each bucket read rendered by `_id`."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from contracts.stores import BUCKET_SIZE, bucket_last_id, bucket_of
from streams.read_model.page_cache import RenderedBucket

# Buckets one page may read beyond what its limit needs when they were full: a sparse or
# mostly filtered-out stretch ends the page early (its Link goes on) instead of costing more.
SPARE_BUCKETS = 8
# Bucket documents read at once (they are fetched concurrently).
MAX_ROUND = 4

Window = Callable[[int, int], Awaitable[tuple[list[int], bool]]]
Read = Callable[[Iterable[int]], Awaitable[Mapping[int, RenderedBucket | None]]]


@dataclass(frozen=True)
class Page:
    """One list page: its todos' ids in order, their JSON as fragments, the next `after`.

    Each fragment is the JSON of one or more consecutive todos, comma-separated.
    `next_after` None: the last page.
    """

    ids: list[int]
    fragments: list[bytes]
    next_after: int | None

    def body(self) -> bytes:
        """Return the page as a JSON array, joined from the rendered todos."""
        return b"[" + b",".join(self.fragments) + b"]"

    @property
    def todos(self) -> list[dict[str, Any]]:
        """Return the page's todos decoded (for callers that want dicts, not bytes)."""
        todos: list[dict[str, Any]] = orjson.loads(self.body())
        return todos


def scan_budget(limit: int) -> int:
    """Return how many buckets a page of `limit` todos may read."""
    return math.ceil((limit + 1) / BUCKET_SIZE) + SPARE_BUCKETS


def round_size(wanted: int, *, filtered: bool) -> int:
    """Return how many buckets to read next for `wanted` more todos, assuming full buckets."""
    per_bucket = BUCKET_SIZE // 2 if filtered else BUCKET_SIZE
    return max(1, min(MAX_ROUND, math.ceil(wanted / per_bucket)))


def assemble_page(
    read: Sequence[tuple[int, RenderedBucket | None]],
    *,
    after: int,
    completed: bool | None,
    limit: int,
    exhausted: bool,
) -> Page:
    """Build a page from the buckets read in bucket order (None: no document).

    More than `limit` matches: the page ends at its `limit`th todo. Otherwise, if buckets are
    left unread (`exhausted` False), the next page starts after the last bucket read, so a
    page may be short, even empty, yet a walk misses nothing.
    """
    ids: list[int] = []
    # (bucket, positions) of the matches in order, cut at the limit's todo.
    chosen: list[tuple[RenderedBucket, list[int]]] = []
    for _, bucket in read:
        if bucket is None or len(ids) > limit:
            continue
        positions = bucket.matches(after=after, completed=completed)
        if positions:
            chosen.append((bucket, positions))
            ids.extend(bucket.ids[i] for i in positions)
    next_after: int | None
    if len(ids) > limit:
        next_after = ids[limit - 1]
        excess = len(ids) - limit
        del ids[limit:]
        bucket, positions = chosen[-1]
        chosen[-1] = (bucket, positions[: len(positions) - excess])
    elif exhausted or not read:
        next_after = None
    else:
        next_after = bucket_last_id(read[-1][0])
    fragments = [
        f for bucket, positions in chosen if positions for f in bucket.fragments(positions)
    ]
    return Page(ids, fragments, next_after)


async def walk_page(
    window: Window, read: Read, *, after: int, completed: bool | None, limit: int
) -> Page:
    """Read buckets from `after`'s onwards until `limit` + 1 todos match or the budget is spent."""
    budget = scan_budget(limit)
    # One look at the directory per page: the buckets this page may read, in order.
    buckets, more = await window(bucket_of(after + 1), budget)
    read_so_far: list[tuple[int, RenderedBucket | None]] = []
    matched = 0
    while len(read_so_far) < len(buckets) and matched <= limit:
        start = len(read_so_far)
        first = buckets[start]
        wanted = limit + 1 - matched
        if start == 0:  # the first bucket holds only the ids after `after`
            wanted += max(0, after + 1 - first * BUCKET_SIZE)
        chosen = buckets[start : start + round_size(wanted, filtered=completed is not None)]
        documents = await read(chosen)
        for bucket in chosen:
            document = documents[bucket]
            read_so_far.append((bucket, document))
            if document is not None:
                matched += len(document.matches(after=after, completed=completed))
    exhausted = not more and len(read_so_far) == len(buckets)
    return assemble_page(
        read_so_far, after=after, completed=completed, limit=limit, exhausted=exhausted
    )
