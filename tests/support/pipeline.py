"""Clients of a running stack as one registered user: both APIs, PostgreSQL, MongoDB and Kafka.

A Pipeline's session sends that user's access token to both APIs (signing in again before the
token expires), and its SQL helpers write rows that user owns.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import psycopg
import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from pymongo import MongoClient
from pymongo.collection import Collection
from requests.auth import AuthBase

from compose.launcher import StackAddresses
from contracts.stores import unpack
from tests.support.polling import wait_for
from tests.support.users import TestUser, obtain_tokens, register_user

CHANGELOG = "todo-eda-streams-todos-changelog"
# A todo's public JSON (the seed's shape): what the read API answers and a bucket entry holds.
PUBLIC_FIELDS = ("id", "title", "description", "completed", "created_at", "updated_at")
# Sign in again when the access token has less than this left (tests outlive a token).
RENEW_BEFORE_S = 60.0

Document = dict[str, Any]


class UserAuth(AuthBase):
    """A user's `Authorization: Bearer` header, with a fresh token once the old one nears exp."""

    def __init__(self, cud_url: str, user: TestUser) -> None:
        self.cud_url = cud_url
        self.user = user
        self.access = user.access

    def token(self) -> str:
        """Return an access token valid for at least RENEW_BEFORE_S more seconds."""
        claims = jwt.decode(self.access, options={"verify_signature": False})
        if float(claims["exp"]) - time.time() < RENEW_BEFORE_S:
            self.access, _ = obtain_tokens(self.cud_url, self.user.username, self.user.password)
        return self.access

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the header on an outgoing request."""
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request


class Pipeline:
    """The write API, the read API, PostgreSQL, MongoDB and Kafka of the stack, as one user."""

    def __init__(self, stack: StackAddresses, user: TestUser | None = None) -> None:
        self.stack = stack
        self.cud_url = stack.write_url
        self.read_url = stack.read_url
        self.broker = stack.kafka
        self.user = user or register_user(stack.write_url)
        self.owner_id = self.user.user_id
        self.auth = UserAuth(self.cud_url, self.user)
        self.http = requests.Session()
        self.http.auth = self.auth
        self.pg_conninfo = stack.postgres.conninfo
        self.mongo: MongoClient[dict[str, Any]] = MongoClient(stack.mongo_url, tz_aware=True)
        self.mongo_db = self.mongo[stack.mongo_db]

    def as_user(self, user: TestUser | None = None) -> Pipeline:
        """Return the same clients acting as `user` (a newly registered one when None)."""
        return Pipeline(self.stack, user)

    def close(self) -> None:
        """Close the session and the MongoDB client."""
        self.http.close()
        self.mongo.close()

    # HTTP ---------------------------------------------------------------------------------

    def write(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send a write to the write API and return its JSON, asserting the 202."""
        response = self.http.request(method, f"{self.cud_url}{path}", json=body, timeout=10)
        assert response.status_code == 202, response.text
        return response.json()

    def create(self, title: str, **fields: Any) -> int:
        """POST a todo and return its id."""
        return int(self.write("POST", "/api/todos/", {"title": title, **fields})["data"]["id"])

    def read(self, path: str) -> requests.Response:
        """GET from the read API."""
        return self.http.get(f"{self.read_url}{path}", timeout=10)

    def wait_todo(
        self, todo_id: int, check: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        """Poll the read API until todo `todo_id` satisfies `check`."""

        def probe() -> dict[str, Any] | None:
            response = self.read(f"/api/todos/{todo_id}/")
            if response.status_code != 200:
                return None
            body = response.json()
            return body if check(body) else None

        return wait_for(probe, timeout=timeout, message=f"todo {todo_id} on the read API")

    def wait_gone(self, todo_id: int, timeout: float = 30) -> None:
        """Poll the read API until todo `todo_id` is a 404."""
        wait_for(
            lambda: self.read(f"/api/todos/{todo_id}/").status_code == 404,
            timeout=timeout,
            message=f"todo {todo_id} gone",
        )

    def list_all(self, query: str = "") -> list[dict[str, Any]]:
        """Follow the read API's list (this user's todos, `query` added) through every page."""
        todos: list[dict[str, Any]] = []
        url: str | None = f"{self.read_url}/api/todos/?limit=1000" + (f"&{query}" if query else "")
        while url:
            response = self.http.get(url, timeout=10)
            assert response.status_code == 200, response.text
            todos.extend(response.json())
            url = response.links.get("next", {}).get("url")
        return todos

    def mongo_buckets(self) -> list[tuple[Collection[Document], Document]]:
        """Every bucket document of the read model, whatever collection holds it.

        A bucket is a document with a `todos` list and a `positions` map (id -> position),
        each packed as JSON text (`contracts.stores.pack`); found by that shape, so these checks
        hold for any keying of the buckets (per owner or not). The documents are as stored:
        read their lists with `unpack`. A superseded layout's buckets (BSON arrays) are not
        the read model and are left out.
        """
        found = []
        for name in self.mongo_db.list_collection_names():
            collection = self.mongo_db[name]
            for document in collection.find({}):
                if isinstance(document.get("todos"), str) and isinstance(
                    document.get("positions"), str
                ):
                    found.append((collection, document))
        return found

    def mongo_live_todos(self) -> dict[int, dict[str, Any]]:
        """Return every live todo of every owner in MongoDB's buckets by id, public fields only.

        Asserts each todo is in one bucket only.
        """
        found: dict[int, dict[str, Any]] = {}
        for _, bucket in self.mongo_buckets():
            for todo in unpack(bucket["todos"]):
                assert todo["id"] not in found, f"todo {todo['id']} in two buckets"
                found[todo["id"]] = {name: todo.get(name) for name in PUBLIC_FIELDS}
        return found

    def mongo_bucket_of(self, todo_id: int) -> tuple[Collection[Document], Document]:
        """Return the one bucket document that has seen todo `todo_id` (live or deleted)."""
        holding = [
            (c, d) for c, d in self.mongo_buckets() if str(todo_id) in unpack(d["positions"])
        ]
        assert len(holding) == 1, f"todo {todo_id} in {len(holding)} bucket documents"
        return holding[0]

    # PostgreSQL ---------------------------------------------------------------------------

    def fresh_id_base(self, align: int) -> int:
        """Return an `align`-aligned id above every id in use; move the sequence 10**8 past it."""
        with self.pg() as conn:
            row = conn.execute(
                "SELECT greatest(coalesce(pg_sequence_last_value("
                "pg_get_serial_sequence('todos', 'id')), 0), coalesce(max(id), 0)) FROM todos"
            ).fetchone()
            assert row is not None
            base = (int(row[0]) // align + 1) * align
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('todos', 'id'), %s)", (base + 10**8,)
            )
        return base

    def pg(self) -> psycopg.Connection[Any]:
        """Return an autocommit connection to the stack's database."""
        return psycopg.connect(self.pg_conninfo, autocommit=True)

    def pg_ids(self, completed: bool | None = None) -> list[int]:
        """Return the ids of this user's todos in PostgreSQL, in order."""
        query = "SELECT id FROM todos WHERE owner_id = %s"
        if completed is not None:
            query += f" AND completed = {str(completed).lower()}"
        with self.pg() as conn:
            return [r[0] for r in conn.execute(query + " ORDER BY id", (self.owner_id,))]

    # Kafka --------------------------------------------------------------------------------

    def produce(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """Produce one record (murmur2 partitioning, like the write API and Java clients)."""
        producer = Producer({"bootstrap.servers": self.broker, "partitioner": "murmur2_random"})
        producer.produce(topic, key=key, value=value)
        assert producer.flush(10) == 0

    def records(self, topic: str, key: bytes | None = None) -> list[Any]:
        """Return every record of `topic` (only those with `key` if given), in partition order."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.broker,
                "group.id": f"e2e-{uuid.uuid4()}",
                "enable.auto.commit": False,
            }
        )
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            ends: dict[int, int] = {}
            for p in partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                ends[p] = high
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
            found: list[Any] = []
            remaining = {p for p, high in ends.items() if high > 0}
            deadline = time.monotonic() + 30
            while remaining and time.monotonic() < deadline:
                message = consumer.poll(1.0)
                if message is None or message.error():
                    continue
                partition, offset = message.partition() or 0, message.offset() or 0
                if offset >= ends[partition] - 1:
                    remaining.discard(partition)
                if key is None or message.key() == key:
                    found.append(message)
            assert not remaining, f"could not read {topic} to its end"
            return found
        finally:
            consumer.close()
