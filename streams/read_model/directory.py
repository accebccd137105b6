"""The directory of the buckets that exist: group documents under one root, kept in memory.

In MongoDB: `{_id: g, buckets: [...]}` per group of GROUP_SIZE buckets and the root
`{_id: DIRECTORY_ROOT_ID, groups: [...]}`, both only ever growing. The worker holds the union
in a sorted set, loaded on first use; its own writes land in it at once, and it is read again
from MongoDB when older than `max_age`, for the buckets other workers added.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from sortedcontainers import SortedSet

from contracts.stores import DIRECTORY_ROOT_ID, group_of
from streams.read_model.store import Document, Merge, VersionedDocuments

log = logging.getLogger(__name__)

# How old the in-memory copy may get before it is read again (other workers' buckets).
MAX_AGE_SECONDS = 1.0


def add_members(field: str, members: Iterable[int]) -> Merge:
    """Return a merge adding `members` to the sorted list `field` (unchanged if all there)."""
    adding = set(members)

    def merge(document: Document | None) -> Document | None:
        held: list[int] = list(document[field]) if document else []
        if adding.issubset(held):
            return None
        return {field: sorted(adding.union(held))}

    return merge


class Directory:
    """Which buckets exist, in order: the read side walks it, the writer extends it first."""

    def __init__(
        self,
        documents: VersionedDocuments,
        *,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._documents = documents
        self._max_age = max_age
        self._clock = clock
        self._buckets: SortedSet = SortedSet()
        self._groups: set[int] = set()
        self._loaded_at: float | None = None
        self._first_load = asyncio.Lock()
        self._reloading: asyncio.Task[None] | None = None

    async def window(self, first: int, count: int) -> tuple[list[int], bool]:
        """Return up to `count` existing buckets >= `first` in order, and whether more follow."""
        await self._fresh()
        start = self._buckets.bisect_left(first)
        chosen = list(self._buckets.islice(start, start + count))
        return chosen, start + count < len(self._buckets)

    async def ensure(self, buckets: Iterable[int]) -> None:
        """List these buckets in MongoDB (root before group), then in memory."""
        await self._loaded()
        new = sorted({bucket for bucket in buckets if bucket not in self._buckets})
        if not new:
            return
        groups = {group_of(bucket) for bucket in new}
        if not groups.issubset(self._groups):
            await self._documents.merge({DIRECTORY_ROOT_ID: add_members("groups", groups)})
            self._groups.update(groups)
        members: dict[int, list[int]] = {}
        for bucket in new:
            members.setdefault(group_of(bucket), []).append(bucket)
        await self._documents.merge(
            {group: add_members("buckets", listed) for group, listed in members.items()}
        )
        self._buckets.update(new)

    async def _loaded(self) -> None:
        if self._loaded_at is None:
            async with self._first_load:
                if self._loaded_at is None:
                    await self._load()

    async def _fresh(self) -> None:
        await self._loaded()
        assert self._loaded_at is not None
        stale = self._clock() - self._loaded_at > self._max_age
        if stale and (self._reloading is None or self._reloading.done()):
            # Readers go on with the copy they have; the reload only adds buckets to it.
            self._reloading = asyncio.create_task(self._reload())

    async def _reload(self) -> None:
        try:
            await self._load()
        except Exception as exc:  # the next stale read tries again
            log.warning("could not reload the read model's directory: %r", exc)

    async def _load(self) -> None:
        """Add what MongoDB lists to the in-memory copy (union: buckets are never removed)."""
        started = self._clock()
        root = (await self._documents.read([DIRECTORY_ROOT_ID]))[DIRECTORY_ROOT_ID]
        groups: list[int] = list(root["groups"]) if root else []
        found = await self._documents.read(groups)
        buckets: list[Any] = [b for group in found.values() if group for b in group["buckets"]]
        self._groups.update(groups)
        self._buckets.update(buckets)
        self._loaded_at = started
