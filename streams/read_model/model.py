"""The read model in MongoDB: each owner's bucket pages and directory, written by the CDC agent.

docs/decisions/read-model-pages.md explains the layout and why it is shaped by FerretDB;
docs/decisions/read-model-owners.md how it is split by owner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.stores import (
    READ_MODEL_DIRECTORY,
    READ_MODEL_PAGES,
    SUPERSEDED_READ_MODEL_COLLECTIONS,
    MalformedDocumentError,
    bucket_key,
)
from streams.domain import Projection
from streams.read_model.buckets import by_bucket, merge_bucket
from streams.read_model.directory import MAX_AGE_SECONDS, Directories
from streams.read_model.page_cache import PageCache, RenderedBucket
from streams.read_model.pages import Page, walk_page
from streams.read_model.store import (
    CLIENT_OPTIONS,
    Document,
    Key,
    Merge,
    VersionedDocuments,
)

log = logging.getLogger(__name__)

# Bucket documents the writer keeps (at most 128 todos each): with one worker nothing else
# writes them, so a cached one saves the read before its compare-and-set.
BUCKET_CACHE_SIZE = 1024
# Directory documents are small (a root and a group or two per owner): keep many.
DIRECTORY_CACHE_SIZE = 4096

Database = Callable[[], AsyncDatabase[Document]]


def _bucket_merge(owner_id: int, bucket: int, projections: Mapping[int, Projection]) -> Merge:
    def merge(document: Document | None) -> Document | None:
        merged = merge_bucket(document, projections)
        # The owner and bucket are stored beside the todos (which keep the public shape).
        return None if merged is None else {"owner_id": owner_id, "bucket": bucket, **merged}

    return merge


class ReadModel:
    """Bucket pages per owner for the read API's list, written under per-todo position guards."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        page_cache_bytes: int = 0,
        open_database: Database | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._database = database
        self._client: AsyncMongoClient[dict[str, Any]] | None = None
        # Tests pass an in-memory database; else the client's.
        self._open_database = open_database
        # Rendered buckets for the list, replaced by every bucket this worker writes.
        self.page_cache = PageCache(page_cache_bytes)
        self.pages = VersionedDocuments(
            lambda: self.database[READ_MODEL_PAGES],
            cache_size=BUCKET_CACHE_SIZE,
            on_written=self.page_cache.written,
        )
        # One write at a time per worker (the CDC agent's batches, the upgrade's rebuild): on
        # FerretDB a compare-and-set is not atomic against a concurrent one (see the decision).
        self._writing = asyncio.Lock()
        self.directories = Directories(
            VersionedDocuments(
                lambda: self.database[READ_MODEL_DIRECTORY], cache_size=DIRECTORY_CACHE_SIZE
            ),
            max_age=MAX_AGE_SECONDS,
            clock=clock,
        )

    async def open(self) -> None:
        """Create the client; PyMongo connects lazily and reconnects by itself."""
        if self._client is None:
            self._client = AsyncMongoClient(self._url, **CLIENT_OPTIONS)

    async def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    @property
    def database(self) -> AsyncDatabase[dict[str, Any]]:
        """Return the database; the client must be open."""
        if self._open_database is not None:
            return self._open_database()
        if self._client is None:
            raise RuntimeError("MongoDB client is not open")
        return self._client[self._database]

    async def ping(self) -> None:
        """Raise unless the server answers."""
        await self.database.client.admin.command("ping")

    async def write(self, projections: Mapping[int, Projection]) -> int:
        """Merge projections into their owners' buckets (listed first); return how many moved."""
        if not projections:
            return 0
        grouped = by_bucket(projections)
        listed: dict[int, set[int]] = {}
        for owner, bucket in grouped:
            listed.setdefault(owner, set()).add(bucket)
        async with self._writing:
            await self.directories.ensure(listed)
            return await self.pages.merge(
                {
                    bucket_key(owner, bucket): _bucket_merge(owner, bucket, members)
                    for (owner, bucket), members in grouped.items()
                }
            )

    async def list_page(
        self,
        *,
        owner_id: int,
        completed: bool | None,
        after: int | None,
        limit: int,
        writer_epoch: int | None = None,
    ) -> Page:
        """Return a page of `owner_id`'s live todos with id > `after` in id order, at most `limit`.

        `writer_epoch` is not None only while this worker is the bucket documents' only
        writer (`page_cache.sole_writer_epoch`): then cached buckets answer.
        """
        cache = self.page_cache
        serving = cache.serving(writer_epoch)

        async def read(buckets: Iterable[int]) -> dict[int, RenderedBucket | None]:
            keys: dict[Key, int] = {bucket_key(owner_id, bucket): bucket for bucket in buckets}
            found: dict[int, RenderedBucket | None] = {}
            if serving:
                for key, entry in cache.get_many(keys).items():
                    found[keys[key]] = entry
            missing = [key for key, bucket in keys.items() if bucket not in found]
            if missing:
                for key, document in (await self.pages.read(missing)).items():
                    rendered = None if document is None else _rendered(key, document)
                    found[keys[key]] = rendered
                    if serving and rendered is not None and writer_epoch is not None:
                        cache.fill(rendered, epoch=writer_epoch)
            return found

        return await walk_page(
            self.directories.of(owner_id).window,
            read,
            after=after or 0,
            completed=completed,
            limit=limit,
        )

    async def superseded_collections(self) -> list[str]:
        """Return the collections of earlier layouts that still exist."""
        names = set(await self.database.list_collection_names())
        return [name for name in SUPERSEDED_READ_MODEL_COLLECTIONS if name in names]

    async def drop_collections(self, names: Iterable[str]) -> None:
        """Drop these collections (earlier layouts, once rebuilt)."""
        for name in names:
            await self.database.drop_collection(name)


def _rendered(key: str, document: Mapping[str, Any]) -> RenderedBucket | None:
    """Render a bucket read from MongoDB; a malformed one is logged and left out of the page."""
    try:
        return RenderedBucket.of(key, document)
    except MalformedDocumentError as exc:
        # Its todos stay readable by id from the table, and the CDC agent dead-letters the
        # changes it cannot merge into it with the same reason: the list answers the rest.
        log.error("list page skips a bucket: %s", exc)
        return None
