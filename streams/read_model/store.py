"""Versioned documents in one collection: reads by `_id`, and merges written by compare-and-set.

Every query is an `_id` equality, the one filter FerretDB 1.24 pushes down to PostgreSQL and
serves from the launcher's GIN index (MongoDB: its own `_id` index). A new document is an
unordered `insert`; an existing one a replace guarded by its version `_v`, sent as `update`
commands of at most UPDATE_CHUNK statements. FerretDB's update reply carries the matched
count `n` but neither `nModified` nor which statement matched, so a short `n` is resolved by
reading those documents again: one that carries our write token `_w` was written, the others
are merged again from what is there now.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from contracts.stores import MalformedDocumentError

Document = dict[str, Any]
# Every `_id` is a string (contracts.stores: the owner first, then the bucket or group).
Key = str
# Given the current document (None: none yet), return the new content, or None: unchanged.
Merge = Callable[[Document | None], Document | None]

DUPLICATE_KEY = 11000
# FerretDB never answers an `update` command of 50 or more statements: stay well below.
UPDATE_CHUNK = 32
# Finds in flight at once for one caller (a page read, a batch's missing buckets).
READ_CONCURRENCY = 8
# A find by `_id` answers in milliseconds; one that takes longer means an overloaded server.
READ_TIMEOUT_MS = 2000
#: The worker's MongoDB client (docs/decisions/fault-recovery.md): an outage fails a write
#: within seconds (the CDC agent then retries the batch until the server is back), and a
#: server that accepts a connection but never answers cannot hold a batch forever.
CLIENT_OPTIONS: dict[str, Any] = {
    "tz_aware": True,
    "appname": "todo-eda",
    # No server to select: fail the operation after 5 s rather than PyMongo's 30 s.
    "serverSelectionTimeoutMS": 5000,
    # A connection attempt that gets no answer (PyMongo's default: 20 s).
    "connectTimeoutMS": 5000,
    # An answer that never comes (PyMongo's default: wait forever); far above a bucket write.
    "socketTimeoutMS": 30000,
    # One transparent retry of a write or read cut by a failover or a dropped connection,
    # where the server supports it (FerretDB: none; the agent's own retry covers that).
    "retryWrites": True,
    "retryReads": True,
}


class ReadModelWriteError(PyMongoError):
    """Some writes failed for a reason other than a lost race (worth a retry)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} writes failed, e.g. {errors[0]}")
        self.errors = errors


class DocumentsRefusedError(ReadModelWriteError):
    """The server refused some documents themselves (a write error): retrying won't help."""


class DocumentCache:
    """The documents this worker wrote or read last, newest kept, at most `size` of them."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._documents: OrderedDict[Key, Document] = OrderedDict()

    def get(self, key: Key) -> Document | None:
        """Return the cached document, or None."""
        document = self._documents.get(key)
        if document is not None:
            self._documents.move_to_end(key)
        return document

    def put(self, document: Document) -> None:
        """Remember a document, forgetting the least recently used beyond the size."""
        self._documents[document["_id"]] = document
        self._documents.move_to_end(document["_id"])
        while len(self._documents) > self._size:
            self._documents.popitem(last=False)

    def forget(self, key: Key) -> None:
        """Drop a document that may be stale."""
        self._documents.pop(key, None)


class VersionedDocuments:
    """One collection of `{_id: str, ..., _v: version, _w: write token}` documents."""

    def __init__(
        self,
        collection: Callable[[], AsyncCollection[Document]],
        *,
        cache_size: int,
        on_written: Callable[[Document], None] | None = None,
    ) -> None:
        self._collection = collection
        self._cache = DocumentCache(cache_size)
        # Told each document this writer wrote, once the server accepted it.
        self._on_written = on_written
        self._tokens = itertools.count(1)
        self._writer = uuid.uuid4().hex[:12]

    async def read(self, keys: Iterable[Key]) -> dict[Key, Document | None]:
        """Read documents by `_id`, a few at a time concurrently (None: no such document)."""
        keys = list(keys)
        slots = asyncio.Semaphore(READ_CONCURRENCY)
        collection = self._collection()

        async def one(key: Key) -> Document | None:
            async with slots:
                return await collection.find_one({"_id": key}, max_time_ms=READ_TIMEOUT_MS)

        found = await asyncio.gather(*(one(key) for key in keys))
        return dict(zip(keys, found, strict=True))

    async def merge(self, merges: Mapping[Key, Merge]) -> int:
        """Apply each merge to its document until written or unchanged; return how many written.

        Starts from the cached document when there is one, else reads it. A lost race (a
        duplicate key on insert, a version that moved on) re-reads and merges again, so
        concurrent writers converge; a merge must be idempotent.
        """
        pending = dict(merges)
        written = 0
        known: dict[Key, Document | None] = {}
        for key in pending:
            cached = self._cache.get(key)
            if cached is not None:
                known[key] = cached
        while pending:
            missing = [key for key in pending if key not in known]
            if missing:
                known.update(await self.read(missing))
            inserts: list[Document] = []
            replaces: list[tuple[Document, int]] = []
            for key, merge in pending.items():
                current = known[key]
                try:
                    content = merge(current)
                except MalformedDocumentError as exc:
                    # The same document fails every retry: refused, so its items are isolated
                    # and dead-lettered with the reason while the rest of the batch goes on.
                    self._cache.forget(key)
                    raise DocumentsRefusedError([{"_id": key, "errmsg": str(exc)}]) from exc
                if content is None:
                    if current is not None:
                        self._cache.put(current)
                    continue
                version = 0 if current is None else int(current.get("_v", 0))
                document = {
                    **content,
                    "_id": key,
                    "_v": version + 1,
                    "_w": f"{self._writer}.{next(self._tokens)}",
                }
                if current is None:
                    inserts.append(document)
                else:
                    replaces.append((document, version))
            lost = {**await self._insert(inserts), **await self._replace(replaces)}
            written += len(inserts) + len(replaces) - len(lost)
            for document in inserts + [document for document, _ in replaces]:
                if document["_id"] not in lost:
                    self._cache.put(document)
                    if self._on_written is not None:
                        self._on_written(document)
            pending = {key: pending[key] for key in lost}
            for key in lost:
                self._cache.forget(key)
            # A replace that lost already read the document as it is now: merge from that.
            known = {key: value for key, value in lost.items() if value is not None}
        return written

    async def _insert(self, documents: list[Document]) -> dict[Key, Document | None]:
        """Insert new documents; return those another writer created first."""
        if not documents:
            return {}
        collection = self._collection()
        reply = await collection.database.command(
            "insert", collection.name, documents=documents, ordered=False
        )
        _raise_unless_only_duplicates(reply)
        return {documents[int(e["index"])]["_id"]: None for e in reply.get("writeErrors") or []}

    async def _replace(self, replaces: list[tuple[Document, int]]) -> dict[Key, Document | None]:
        """Replace documents still at their expected version; return those that moved on."""
        lost: dict[Key, Document | None] = {}
        collection = self._collection()
        for start in range(0, len(replaces), UPDATE_CHUNK):
            chunk = replaces[start : start + UPDATE_CHUNK]
            updates = [
                {"q": {"_id": document["_id"], "_v": version}, "u": document}
                for document, version in chunk
            ]
            reply = await collection.database.command(
                "update", collection.name, updates=updates, ordered=False
            )
            _raise_unless_only_duplicates(reply)
            if reply.get("writeErrors"):
                raise ReadModelWriteError(reply["writeErrors"])
            if int(reply.get("n", 0)) >= len(chunk):
                continue
            keys = [document["_id"] for document, _ in chunk]
            fresh = await self.read(keys)
            for document, _ in chunk:
                now = fresh[document["_id"]]
                if now is None or now.get("_w") != document["_w"]:
                    lost[document["_id"]] = now
        return lost


def _raise_unless_only_duplicates(reply: Mapping[str, Any]) -> None:
    """Raise for a write concern error (worth a retry) or a write error but 11000 (refused)."""
    if reply.get("writeConcernError"):
        raise ReadModelWriteError([reply["writeConcernError"]])
    failed = [e for e in reply.get("writeErrors") or [] if e.get("code") != DUPLICATE_KEY]
    if failed:
        raise DocumentsRefusedError(failed)
