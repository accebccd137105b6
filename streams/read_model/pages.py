"""The list's page walk: the directory's buckets in order, each bucket document read by `_id`."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from contracts.stores import BUCKET_SIZE, bucket_of
from streams.read_model.buckets import Page, assemble_page, select

# Buckets one page may read beyond what its limit needs when they were full: a sparse or
# mostly filtered-out stretch ends the page early (its Link goes on) instead of costing more.
SPARE_BUCKETS = 8
# Bucket documents read at once (they are fetched concurrently).
MAX_ROUND = 4

Window = Callable[[int, int], Awaitable[tuple[list[int], bool]]]
Read = Callable[[Iterable[int]], Awaitable[Mapping[int, Any]]]


def scan_budget(limit: int) -> int:
    """Return how many buckets a page of `limit` todos may read."""
    return math.ceil((limit + 1) / BUCKET_SIZE) + SPARE_BUCKETS


def round_size(wanted: int, *, filtered: bool) -> int:
    """Return how many buckets to read next for `wanted` more todos, assuming full buckets."""
    per_bucket = BUCKET_SIZE // 2 if filtered else BUCKET_SIZE
    return max(1, min(MAX_ROUND, math.ceil(wanted / per_bucket)))


async def walk_page(
    window: Window, read: Read, *, after: int, completed: bool | None, limit: int
) -> Page:
    """Read buckets from `after`'s onwards until `limit` + 1 todos match or the budget is spent."""
    budget = scan_budget(limit)
    # One look at the directory per page: the buckets this page may read, in order.
    buckets, more = await window(bucket_of(after + 1), budget)
    read_so_far: list[tuple[int, Any]] = []
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
                matched += len(select(document["todos"], after=after, completed=completed))
    exhausted = not more and len(read_so_far) == len(buckets)
    return assemble_page(
        read_so_far, after=after, completed=completed, limit=limit, exhausted=exhausted
    )
