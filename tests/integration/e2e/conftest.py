"""Clients of the running stack for the end-to-end tests (the `stack` fixture starts it)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from pymongo import MongoClient

from compose.launcher import IsolatedStack, StackAddresses
from contracts.stores import READ_MODEL_PAGES
from tests.support.polling import wait_for

CHANGELOG = "todo-eda-streams-todos-changelog"


class Pipeline:
    """The write API, the read API, PostgreSQL, MongoDB and Kafka of the stack under test."""

    def __init__(self, stack: StackAddresses) -> None:
        self.cud_url = stack.write_url
        self.read_url = stack.read_url
        self.broker = stack.kafka
        self.http = requests.Session()
        self.pg_conninfo = stack.postgres.conninfo
        self.mongo: MongoClient[dict[str, Any]] = MongoClient(stack.mongo_url, tz_aware=True)
        self.mongo_db = self.mongo[stack.mongo_db]

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

    def list_all(self) -> list[dict[str, Any]]:
        """Follow the read API's list through every page."""
        todos: list[dict[str, Any]] = []
        url: str | None = f"{self.read_url}/api/todos/?limit=1000"
        while url:
            response = self.http.get(url, timeout=10)
            assert response.status_code == 200, response.text
            todos.extend(response.json())
            url = response.links.get("next", {}).get("url")
        return todos

    def mongo_live_todos(self) -> dict[int, dict[str, Any]]:
        """Return every live todo in MongoDB's bucket pages by id (asserting each is once)."""
        found: dict[int, dict[str, Any]] = {}
        for bucket in self.mongo_db[READ_MODEL_PAGES].find({}):
            for todo in bucket["todos"]:
                assert todo["id"] not in found, f"todo {todo['id']} in two buckets"
                found[todo["id"]] = todo
        return found

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


@pytest.fixture(scope="session")
def pipeline(stack: IsolatedStack) -> Iterator[Pipeline]:
    """Clients of the running stack."""
    for name in ("cud_api", "streams"):
        stack.wait_ready(name)
    clients = Pipeline(stack.addresses)
    yield clients
    clients.mongo.close()
