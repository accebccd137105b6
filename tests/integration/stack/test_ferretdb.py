"""FerretDB of the isolated stack through PyMongo's async client."""

from __future__ import annotations

import uuid

from pymongo import AsyncMongoClient

from compose.testing import TestStack
from tests.integration.conftest import needs


async def test_a_document_is_inserted_updated_found_and_deleted(stack: TestStack) -> None:
    needs(stack, "ferretdb")
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        stack.env["MONGO_URL"], serverSelectionTimeoutMS=10_000
    )
    db = client[f"smoke_{uuid.uuid4().hex[:12]}"]
    try:
        todos = db["todos"]
        await todos.insert_one({"_id": 42, "title": "write", "completed": False})
        result = await todos.update_one({"_id": 42}, {"$set": {"completed": True}})
        assert result.modified_count == 1
        assert await todos.find_one({"_id": 42}) == {"_id": 42, "title": "write", "completed": True}
        assert (await todos.delete_one({"_id": 42})).deleted_count == 1
        assert await todos.find_one({"_id": 42}) is None
    finally:
        await client.drop_database(db.name)
        await client.close()
