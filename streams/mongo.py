"""MongoDB read model: one document per todo, written under a position guard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import AsyncMongoClient, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from streams.domain import Projection

COLLECTION = "todos"
DUPLICATE_KEY = 11000


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
        """Store many projections in one unordered bulk write, each under the position guard.

        Returns how many were stale (a document as new or newer was already there); those
        are the guarded upserts whose insert collided on `_id` (error 11000), and nothing
        else counts as stale: any other write error is raised, for the caller to retry the
        whole (idempotent) batch.
        """
        if not projections:
            return 0
        requests = [
            ReplaceOne({"_id": todo_id, "_pos": {"$lt": doc["_pos"]}}, doc, upsert=True)
            for todo_id, doc in (
                (todo_id, projection_document(projection, todo_id))
                for todo_id, projection in projections.items()
            )
        ]
        try:
            await self.collection.bulk_write(requests, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if exc.details.get("writeConcernErrors") or any(
                e.get("code") != DUPLICATE_KEY for e in errors
            ):
                raise
            return len(errors)
        return 0

    async def list_todos(
        self, *, completed: bool | None, after: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """Return up to `limit` live todos with id > `after`, ordered by id."""
        query: dict[str, Any] = {"deleted": False}
        if completed is not None:
            query["completed"] = completed
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self.collection.find(query).sort("_id", 1).limit(limit)
        return [document_todo(doc) async for doc in cursor]

    async def get(self, todo_id: int) -> dict[str, Any] | None:
        """Return one live todo in public shape, or None."""
        doc = await self.collection.find_one({"_id": todo_id, "deleted": False})
        return None if doc is None else document_todo(doc)
