"""An in-memory collection answering the few commands the read model's store sends."""

from __future__ import annotations

import copy
from typing import Any


class FakeDatabase:
    """`insert` (unordered, 11000 per duplicate) and `update` (equality filters, no upsert)."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[Any, dict[str, Any]]] = {}
        self.commands: list[tuple[str, int]] = []

    async def command(self, name: str, collection: str, **body: Any) -> dict[str, Any]:
        documents = self.collections.setdefault(collection, {})
        if name == "insert":
            self.commands.append((name, len(body["documents"])))
            errors = []
            for index, document in enumerate(body["documents"]):
                if document["_id"] in documents:
                    errors.append({"index": index, "code": 11000, "errmsg": "duplicate key"})
                else:
                    documents[document["_id"]] = copy.deepcopy(document)
            reply: dict[str, Any] = {"n": len(body["documents"]) - len(errors), "ok": 1.0}
            return {**reply, "writeErrors": errors} if errors else reply
        assert name == "update", name
        self.commands.append((name, len(body["updates"])))
        assert len(body["updates"]) < 50, "FerretDB never answers such a command"
        matched = 0
        for statement in body["updates"]:
            assert set(statement["q"]) == {"_id", "_v"}, statement["q"]
            held = documents.get(statement["q"]["_id"])
            if held is not None and all(held.get(k) == v for k, v in statement["q"].items()):
                documents[held["_id"]] = copy.deepcopy(statement["u"])
                matched += 1
        return {"n": matched, "ok": 1.0}  # like FerretDB's: no nModified


class FakeCollection:
    """One collection of a FakeDatabase."""

    def __init__(self, database: FakeDatabase, name: str) -> None:
        self.database = database
        self.name = name
        self.finds = 0

    async def find_one(self, query: dict[str, Any], **_options: Any) -> dict[str, Any] | None:
        # The only query FerretDB 1.24 serves by index: an `_id` equality on a string.
        assert set(query) == {"_id"} and isinstance(query["_id"], str), query
        self.finds += 1
        held = self.database.collections.get(self.name, {}).get(query["_id"])
        return copy.deepcopy(held)


class DatabaseView:
    """One worker's handle on a FakeDatabase: its own FakeCollection per name (own counts)."""

    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self._collections: dict[str, FakeCollection] = {}

    def __getitem__(self, name: str) -> FakeCollection:
        if name not in self._collections:
            self._collections[name] = FakeCollection(self.database, name)
        return self._collections[name]

    async def list_collection_names(self) -> list[str]:
        return list(self.database.collections)

    async def drop_collection(self, name: str) -> None:
        self.database.collections.pop(name, None)
