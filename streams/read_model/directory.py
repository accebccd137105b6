"""Each owner's directory of the buckets that exist: group documents under a root, in memory.

In MongoDB, per owner: `{_id: "<owner>:g<g>", buckets: "[...]"}` per group of GROUP_SIZE
buckets and the root `{_id: "<owner>:root", groups: "[...]"}`, both only ever growing (each
list packed as JSON text, `contracts.stores.pack`). The
worker holds each owner's union in a sorted set, loaded when the owner is first listed or
written; its own writes land in it at once, and it is read again from MongoDB when older
than `max_age`, for the buckets other workers added.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sortedcontainers import SortedSet

from contracts.stores import (
    MalformedDocumentError,
    directory_group_key,
    directory_root_key,
    group_of,
    pack,
    unpack_field,
)
from streams.read_model.store import Document, Key, Merge, VersionedDocuments

log = logging.getLogger(__name__)

# How old the in-memory copy may get before it is read again (other workers' buckets).
MAX_AGE_SECONDS = 1.0


def add_members(field: str, members: Iterable[int]) -> Merge:
    """Return a merge adding `members` to the packed sorted list `field` (None: all there)."""
    adding = set(members)

    def merge(document: Document | None) -> Document | None:
        held: list[int] = unpack_field(document, field) if document else []
        if adding.issubset(held):
            return None
        return {field: pack(sorted(adding.union(held)))}

    return merge


class Directory:
    """Which buckets of one owner exist, in order: pages walk it, the writer extends it first."""

    def __init__(
        self,
        documents: VersionedDocuments,
        owner_id: int,
        *,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.owner_id = owner_id
        self._documents = documents
        self._max_age = max_age
        self._clock = clock
        self.buckets: SortedSet = SortedSet()
        self.groups: set[int] = set()
        self._loaded_at: float | None = None
        self._first_load = asyncio.Lock()
        self._reloading: asyncio.Task[None] | None = None

    async def window(self, first: int, count: int) -> tuple[list[int], bool]:
        """Return up to `count` existing buckets >= `first` in order, and whether more follow."""
        await self._fresh()
        start = self.buckets.bisect_left(first)
        chosen = list(self.buckets.islice(start, start + count))
        return chosen, start + count < len(self.buckets)

    async def loaded(self) -> None:
        """Load the owner's directory from MongoDB unless this worker holds it already."""
        if self._loaded_at is None:
            async with self._first_load:
                if self._loaded_at is None:
                    await self._load()

    async def _fresh(self) -> None:
        await self.loaded()
        assert self._loaded_at is not None
        stale = self._clock() - self._loaded_at > self._max_age
        if stale and (self._reloading is None or self._reloading.done()):
            # Readers go on with the copy they have; the reload only adds buckets to it.
            self._reloading = asyncio.create_task(self._reload())

    async def _reload(self) -> None:
        try:
            await self._load()
        except Exception as exc:  # the next stale read tries again
            log.warning("could not reload owner %d's directory: %r", self.owner_id, exc)

    async def _load(self) -> None:
        """Add what MongoDB lists to the in-memory copy (union: buckets are never removed)."""
        started = self._clock()
        root_key = directory_root_key(self.owner_id)
        root = (await self._documents.read([root_key]))[root_key]
        groups: list[int] = _members(root, "groups") if root else []
        found = await self._documents.read(
            [directory_group_key(self.owner_id, group) for group in groups]
        )
        buckets: list[Any] = [
            b for group in found.values() if group for b in _members(group, "buckets")
        ]
        self.groups.update(groups)
        self.buckets.update(buckets)
        self._loaded_at = started


def _members(document: Document, field: str) -> list[int]:
    """A directory document's members; a damaged document is logged and read as empty."""
    try:
        members: list[int] = unpack_field(document, field)
    except MalformedDocumentError as exc:
        # Its buckets go unlisted; the writer's next merge into it is refused with this reason.
        log.error("directory skips a document: %s", exc)
        return []
    return members


class Directories:
    """Every owner's directory this worker has used, over one collection of documents.

    Kept for the worker's lifetime: a directory dropped and loaded again could miss, for up
    to `max_age`, a bucket this worker had just listed in the dropped copy.
    """

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
        self._owners: dict[int, Directory] = {}

    def of(self, owner_id: int) -> Directory:
        """Return one owner's directory (loaded on its first window or write)."""
        directory = self._owners.get(owner_id)
        if directory is None:
            directory = Directory(
                self._documents, owner_id, max_age=self._max_age, clock=self._clock
            )
            self._owners[owner_id] = directory
        return directory

    async def ensure(self, buckets: Mapping[int, Iterable[int]]) -> None:
        """List each owner's buckets in MongoDB (roots before groups), then in memory.

        One merge for all the roots that gain a group and one for all the groups that gain
        a bucket, whatever the number of owners.
        """
        directories = [self.of(owner) for owner in buckets]
        await asyncio.gather(*(directory.loaded() for directory in directories))
        new: dict[int, list[int]] = {}
        for directory in directories:
            unlisted = {b for b in buckets[directory.owner_id] if b not in directory.buckets}
            if unlisted:
                new[directory.owner_id] = sorted(unlisted)
        if not new:
            return
        roots: dict[Key, Merge] = {}
        groups: dict[Key, Merge] = {}
        for owner, listed in new.items():
            directory = self._owners[owner]
            gained = {group_of(bucket) for bucket in listed}
            if not gained.issubset(directory.groups):
                roots[directory_root_key(owner)] = add_members("groups", gained)
            members: dict[int, list[int]] = {}
            for bucket in listed:
                members.setdefault(group_of(bucket), []).append(bucket)
            for group, grouped in members.items():
                groups[directory_group_key(owner, group)] = add_members("buckets", grouped)
        if roots:
            await self._documents.merge(roots)
        await self._documents.merge(groups)
        for owner, listed in new.items():
            directory = self._owners[owner]
            directory.groups.update(group_of(bucket) for bucket in listed)
            directory.buckets.update(listed)
