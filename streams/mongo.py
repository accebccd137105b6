"""MongoDB read model: one document per todo, written under a position guard.

Shaped by what FerretDB 1.24 does (batch sizes, bounded lists, insert-then-update); the
measurements are in docs/decisions/ferretdb-backend-and-indexes.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, ExecutionTimeout, PyMongoError

from contracts.stores import LEGACY_READ_MODEL_COLLECTION as COLLECTION
from streams.domain import Projection

DUPLICATE_KEY = 11000
# FerretDB never answers an `update` command of 50 or more statements: stay well below.
UPDATE_CHUNK = 32
# FerretDB sorts a list in memory over every matching document: bounding time and concurrency
# makes a slow list answer 503 instead of exhausting its memory while the writer runs on.
LIST_TIMEOUT_MS = 2000
LIST_CONCURRENCY = 2


class ReadModelWriteError(PyMongoError):
    """Some writes of a batch failed for a reason other than being stale."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} writes failed, e.g. {errors[0]}")
        self.errors = errors


class DocumentsRefusedError(ReadModelWriteError):
    """The server refused some documents themselves (a write error): retrying won't help."""


def projection_document(projection: Projection, todo_id: int) -> dict[str, Any]:
    """Return the document for a projection; a deleted todo becomes a tombstone document."""
    position = projection.position.key()
    if projection.todo is None:
        return {"_id": todo_id, "deleted": True, "_pos": position}
    public = projection.todo.to_json()
    del public["id"]
    return {"_id": todo_id, **public, "deleted": False, "_pos": position}


def document_todo(document: dict[str, Any]) -> dict[str, Any]:
    """Return a document in the seed's public shape."""
    return {
        "id": document["_id"],
        "title": document.get("title", ""),
        "description": document.get("description", ""),
        "completed": bool(document.get("completed", False)),
        "created_at": document.get("created_at"),
        "updated_at": document.get("updated_at"),
    }


class ReadModel:
    """The `todos` collection: guarded writes for the CDC agent, queries for the read API."""

    def __init__(self, url: str, database: str) -> None:
        self._url = url
        self._database = database
        self._client: AsyncMongoClient[dict[str, Any]] | None = None
        self._list_slots = asyncio.Semaphore(LIST_CONCURRENCY)

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
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        """Return the collection; the client must be open."""
        if self._client is None:
            raise RuntimeError("MongoDB client is not open")
        return self._client[self._database][COLLECTION]

    async def ping(self) -> None:
        """Raise unless the server answers."""
        if self._client is None:
            raise RuntimeError("MongoDB client is not open")
        await self._client.admin.command("ping")

    async def write(self, todo_id: int, projection: Projection) -> bool:
        """Store the projection unless the document already holds a position as new or newer.

        The filter only matches an older document; when a newer one exists the upsert's
        insert collides on `_id`, which is how a stale write is told apart (and skipped).
        Works on FerretDB too: only equality, `$lt` on a string and `replaceOne` are used.
        """
        document = projection_document(projection, todo_id)
        try:
            await self.collection.replace_one(
                {"_id": todo_id, "_pos": {"$lt": document["_pos"]}}, document, upsert=True
            )
        except DuplicateKeyError:
            return False
        return True

    async def write_many(self, projections: Mapping[int, Projection]) -> int:
        """Store many projections in few round trips, each under the position guard.

        First one unordered `insert` of every document: a todo MongoDB has never seen is
        written there, and every other one fails with a duplicate key (11000) at its index.
        Then `update`s of exactly those (in chunks of UPDATE_CHUNK), guarded by
        `_pos < new position`, so a document already as new or newer is left alone.
        Returns how many documents already existed. Any other write error raises
        DocumentsRefusedError (the caller writes the batch's todos one by one to find which), and
        a write concern error ReadModelWriteError, for the caller to retry the (idempotent)
        batch. Not guarded upserts nor `bulk_write`: FerretDB loses the writes after a stale
        upsert in a batch, and its update reply lacks `nModified`.
        """
        if not projections:
            return 0
        documents = [projection_document(p, todo_id) for todo_id, p in projections.items()]
        database = self.collection.database
        reply = await database.command("insert", COLLECTION, documents=documents, ordered=False)
        _raise_unless_only_duplicates(reply)
        existing = [documents[int(e["index"])] for e in reply.get("writeErrors") or []]
        updates = [
            {"q": {"_id": doc["_id"], "_pos": {"$lt": doc["_pos"]}}, "u": doc} for doc in existing
        ]
        for start in range(0, len(updates), UPDATE_CHUNK):
            chunk = updates[start : start + UPDATE_CHUNK]
            reply = await database.command("update", COLLECTION, updates=chunk, ordered=False)
            _raise_unless_only_duplicates(reply)
            if reply.get("writeErrors"):
                raise ReadModelWriteError(reply["writeErrors"])
        return len(existing)

    async def list_todos(
        self, *, completed: bool | None, after: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Return up to `limit` live todos with id > `after`, ordered by id."""
        query: dict[str, Any] = {"deleted": False}
        if completed is not None:
            query["completed"] = completed
        if after is not None:
            query["_id"] = {"$gt": after}
        try:
            await asyncio.wait_for(self._list_slots.acquire(), LIST_TIMEOUT_MS / 1000)
        except TimeoutError:
            raise ExecutionTimeout("every list slot stayed busy") from None
        try:
            cursor = (
                self.collection.find(query).sort("_id", 1).limit(limit).max_time_ms(LIST_TIMEOUT_MS)
            )
            return [document_todo(doc) async for doc in cursor]
        finally:
            self._list_slots.release()

    async def get(self, todo_id: int) -> dict[str, Any] | None:
        """Return one live todo in public shape, or None."""
        doc = await self.collection.find_one({"_id": todo_id, "deleted": False})
        return None if doc is None else document_todo(doc)


def _raise_unless_only_duplicates(reply: Mapping[str, Any]) -> None:
    """Raise for a write concern error (worth a retry) or a write error but 11000 (refused)."""
    if reply.get("writeConcernError"):
        raise ReadModelWriteError([reply["writeConcernError"]])
    failed = [e for e in reply.get("writeErrors") or [] if e.get("code") != DUPLICATE_KEY]
    if failed:
        raise DocumentsRefusedError(failed)
