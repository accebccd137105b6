"""FerretDB of the isolated stack through PyMongo's async client."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from pymongo import AsyncMongoClient

from compose import postgres
from compose.launcher import IsolatedStack
from tests.integration.conftest import needs


async def test_a_document_is_inserted_updated_found_and_deleted(stack: IsolatedStack) -> None:
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


async def test_every_collection_table_gets_a_gin_index_on_id(stack: IsolatedStack) -> None:
    needs(stack, "ferretdb")
    if stack.settings.values["FERRETDB_BACKEND"] == "sqlite":
        pytest.skip("the index is for FerretDB's PostgreSQL backend")
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        stack.env["MONGO_URL"], serverSelectionTimeoutMS=10_000
    )
    name = f"indexed_{uuid.uuid4().hex[:12]}"
    try:
        await client[name]["todos"].insert_one({"_id": 7})  # FerretDB creates the table now
        conninfo = postgres.superuser_conninfo(stack.settings, postgres.FERRETDB_DATABASE)
        with psycopg.connect(conninfo) as conn:
            gin = conn.execute(
                "SELECT indexdef FROM pg_indexes"
                " WHERE schemaname = %s AND tablename LIKE 'todos%%' AND indexdef LIKE %s",
                (name, "%USING gin%_id%"),
            ).fetchall()
            (plan_cache_mode,) = conn.execute("SHOW plan_cache_mode").fetchone() or ("",)
        assert len(gin) == 1, gin
        assert plan_cache_mode == "force_custom_plan"
    finally:
        await client.drop_database(name)
        await client.close()
