"""The read model in MongoDB: bucket pages and their directory, written by the CDC agent.

docs/decisions/read-model-pages.md explains the layout and why it is shaped by FerretDB.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.stores import LEGACY_READ_MODEL_COLLECTION, READ_MODEL_DIRECTORY, READ_MODEL_PAGES
from streams.domain import Projection
from streams.read_model.buckets import by_bucket, merge_bucket
from streams.read_model.directory import Directory
from streams.read_model.page_cache import PageCache, RenderedBucket
from streams.read_model.pages import Page, walk_page
from streams.read_model.store import Document, Merge, VersionedDocuments

# Bucket documents the writer keeps (at most 128 todos each): with one worker nothing else
# writes them, so a cached one saves the read before its compare-and-set.
BUCKET_CACHE_SIZE = 1024
# Directory documents are a few (one per 1024 buckets) and small: keep them all.
DIRECTORY_CACHE_SIZE = 4096


def _bucket_merge(projections: Mapping[int, Projection]) -> Merge:
    def merge(document: Document | None) -> Document | None:
        return merge_bucket(document, projections)

    return merge


class ReadModel:
    """Bucket pages for the read API's list, written under per-todo position guards."""

    def __init__(self, url: str, database: str, *, page_cache_bytes: int = 0) -> None:
        self._url = url
        self._database = database
        self._client: AsyncMongoClient[dict[str, Any]] | None = None
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
        self.directory = Directory(
            VersionedDocuments(
                lambda: self.database[READ_MODEL_DIRECTORY], cache_size=DIRECTORY_CACHE_SIZE
            )
        )

    async def open(self) -> None:
        """Create the client; PyMongo connects lazily and reconnects by itself."""
        if self._client is None:
            self._client = AsyncMongoClient(
                self._url, tz_aware=True, serverSelectionTimeoutMS=5000, appname="todo-eda"
            )

    async def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    @property
    def database(self) -> AsyncDatabase[dict[str, Any]]:
        """Return the database; the client must be open."""
        if self._client is None:
            raise RuntimeError("MongoDB client is not open")
        return self._client[self._database]

    async def ping(self) -> None:
        """Raise unless the server answers."""
        await self.database.client.admin.command("ping")

    async def write(self, projections: Mapping[int, Projection]) -> int:
        """Merge projections into their buckets (listed first); return how many buckets moved."""
        if not projections:
            return 0
        grouped = by_bucket(projections)
        async with self._writing:
            await self.directory.ensure(grouped)
            return await self.pages.merge(
                {bucket: _bucket_merge(members) for bucket, members in grouped.items()}
            )

    async def list_page(
        self,
        *,
        completed: bool | None,
        after: int | None,
        limit: int,
        writer_epoch: int | None = None,
    ) -> Page:
        """Return a page of live todos with id > `after` in id order, at most `limit`.

        `writer_epoch` is not None only while this worker is the bucket documents' only
        writer (`page_cache.sole_writer_epoch`): then cached buckets answer.
        """
        cache = self.page_cache
        serving = cache.serving(writer_epoch)

        async def read(buckets: Iterable[int]) -> dict[int, RenderedBucket | None]:
            buckets = list(buckets)
            found: dict[int, RenderedBucket | None] = {}
            found.update(cache.get_many(buckets) if serving else {})
            missing = [bucket for bucket in buckets if bucket not in found]
            if missing:
                for bucket, document in (await self.pages.read(missing)).items():
                    rendered = None if document is None else RenderedBucket.of(bucket, document)
                    found[bucket] = rendered
                    if serving and rendered is not None and writer_epoch is not None:
                        cache.fill(rendered, epoch=writer_epoch)
            return found

        return await walk_page(
            self.directory.window, read, after=after or 0, completed=completed, limit=limit
        )

    async def has_legacy_layout(self) -> bool:
        """Return whether the first layout's per-todo collection exists."""
        return LEGACY_READ_MODEL_COLLECTION in await self.database.list_collection_names()

    async def drop_legacy_layout(self) -> None:
        """Drop the first layout's per-todo collection."""
        await self.database.drop_collection(LEGACY_READ_MODEL_COLLECTION)
