"""Clients for the stack's own smoke tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, Message

from compose import postgres
from compose.launcher import IsolatedStack
from tests.support.polling import wait_for


@pytest.fixture
def app_db(stack: IsolatedStack) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the project's database as the application user."""
    with psycopg.connect(postgres.app_conninfo(stack.settings), autocommit=True) as conn:
        yield conn


@pytest.fixture
def superuser_db(stack: IsolatedStack) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit superuser connection (through the state folder's socket)."""
    conninfo = postgres.superuser_conninfo(stack.settings, stack.env["POSTGRES_DB"])
    with psycopg.connect(conninfo, autocommit=True) as conn:
        yield conn


@pytest.fixture
def demo_id(app_db: psycopg.Connection[Any]) -> int:
    """The id of the demo user every stack creates after its migrations (rows need an owner)."""
    row = app_db.execute("SELECT id FROM auth_user WHERE username = 'demo'").fetchone()
    assert row is not None, "the stack has no demo user"
    return int(row[0])


Collect = Callable[[Callable[[list[Message]], bool], float], list[Message]]


@pytest.fixture
def topic_reader(stack: IsolatedStack) -> Iterator[Callable[[str], Collect]]:
    """Open a consumer (its own group) on a topic from the beginning; collect until a condition."""
    consumers: list[Consumer] = []

    def open_reader(topic: str) -> Collect:
        consumer = Consumer(
            {
                "bootstrap.servers": stack.env["KAFKA_BROKER_URL"],
                "group.id": f"smoke-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([topic])
        consumers.append(consumer)
        seen: list[Message] = []

        def collect(done: Callable[[list[Message]], bool], timeout: float = 60.0) -> list[Message]:
            def probe() -> list[Message] | None:
                msg = consumer.poll(0.5)
                if msg is not None and not msg.error():
                    seen.append(msg)
                return seen if done(seen) else None

            return wait_for(probe, timeout=timeout, interval=0, message=f"records on {topic}")

        return collect

    yield open_reader
    for consumer in consumers:
        consumer.close()
