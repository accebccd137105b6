"""Fixtures for the write API's integration tests: HTTP client, users, database, command topic.

All of them sit on the session fixture `stack` (tests/integration/conftest.py), which runs
an isolated stack and exports its addresses in `stack.env` and os.environ. `api` is signed in
as `user`; `other_user` is a second user for the tests of who sees and changes what.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
import pytest
import requests
from confluent_kafka import Consumer, TopicPartition

from compose.launcher import IsolatedStack
from tests.support.polling import wait_for
from tests.support.users import TestUser, obtain_tokens, register_user

COMMAND_TOPIC = "todos"


# Access tokens live 15 minutes; a client signs in again after this many seconds.
TOKEN_RENEW_AFTER_S = 10 * 60


class Api:
    """A requests session bound to the write API's base URL, signed in as `user` if given."""

    def __init__(self, base_url: str, user: TestUser | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.user = user
        self._access = user.access if user else None
        self._signed_in_at = time.monotonic()

    def as_user(self, user: TestUser) -> Api:
        """Another client of the same API, signed in as `user`."""
        return Api(self.base_url, user)

    def _authorization(self) -> dict[str, str]:
        if self.user is None:
            return {}
        if time.monotonic() - self._signed_in_at > TOKEN_RENEW_AFTER_S:
            self._access, _ = obtain_tokens(self.base_url, self.user.username, self.user.password)
            self._signed_in_at = time.monotonic()
        return {"Authorization": f"Bearer {self._access}"}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        # A test's own headers win; {"Authorization": None} sends none.
        kwargs["headers"] = {**self._authorization(), **(kwargs.get("headers") or {})}
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@dataclass(frozen=True)
class Record:
    """One record read back from the command topic."""

    partition: int
    offset: int
    key: bytes | None
    value: dict[str, Any]


class CommandTopic:
    """Reads `todos` from where it ended when the tests began, indexing records by command id."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                # A fresh group, never committed: it sees everything and disturbs nobody.
                "group.id": f"cud-api-tests-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        metadata = self.consumer.list_topics(COMMAND_TOPIC, timeout=20)
        self.partitions = len(metadata.topics[COMMAND_TOPIC].partitions)
        # Next offset to read per partition: starts at the end as of now.
        self.next_offset = {p: self._high_watermark(p) for p in range(self.partitions)}
        self.consumer.assign(
            [TopicPartition(COMMAND_TOPIC, p, o) for p, o in self.next_offset.items()]
        )
        self.records: dict[str, Record] = {}

    def _high_watermark(self, partition: int) -> int:
        _, high = self.consumer.get_watermark_offsets(
            TopicPartition(COMMAND_TOPIC, partition), timeout=20
        )
        return int(high)

    def poll(self, timeout: float = 0.2) -> None:
        """Read what is available now into the index."""
        for message in self.consumer.consume(500, timeout):
            if message.error() is not None:
                continue
            value = orjson.loads(message.value() or b"null")
            record = Record(
                partition=message.partition() or 0,
                offset=message.offset() or 0,
                key=message.key(),
                value=value,
            )
            self.records[str(value.get("command_id"))] = record
            self.next_offset[record.partition] = record.offset + 1

    def wait_for_command(self, command_id: str, timeout: float = 30.0) -> Record:
        """Return the record carrying this command id once it has been read."""

        def probe() -> Record | None:
            self.poll()
            return self.records.get(command_id)

        return wait_for(probe, timeout=timeout, interval=0.0, message=f"command {command_id}")

    def read_to_end(self, timeout: float = 30.0) -> None:
        """Read every record written before this call (the topic's current end)."""
        ends = {p: self._high_watermark(p) for p in range(self.partitions)}

        def caught_up() -> bool:
            self.poll()
            return all(self.next_offset[p] >= end for p, end in ends.items())

        wait_for(caught_up, timeout=timeout, interval=0.0, message="reading todos to its end")

    def for_todo(self, todo_id: int) -> list[Record]:
        """Every record read so far about this todo, in offset order."""
        found = [r for r in self.records.values() if r.value.get("id") == todo_id]
        return sorted(found, key=lambda r: r.offset)

    def committed_by(self, group: str, partition: int) -> int:
        """The offset `group` committed in a partition of `todos` (negative before any)."""
        # Fetching a group's committed offsets does not join the group, so it disturbs nobody.
        reader = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            (committed,) = reader.committed([TopicPartition(COMMAND_TOPIC, partition)], timeout=10)
            return int(committed.offset)
        finally:
            reader.close()

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture(scope="session")
def stack_env(stack: IsolatedStack) -> dict[str, str]:
    """The running test stack's environment (addresses, credentials)."""
    return dict(stack.env)


@pytest.fixture(scope="session")
def anonymous(stack_env: dict[str, str]) -> Api:
    """The write API of the test stack without a token, once its health check passes."""
    client = Api(stack_env["CUD_API_URL"])
    wait_for(lambda: client.get("/health/").status_code == 200, timeout=60, message="cud_api up")
    return client


@pytest.fixture(scope="session")
def user(anonymous: Api) -> TestUser:
    """The user the `api` fixture is signed in as."""
    return register_user(anonymous.base_url)


@pytest.fixture(scope="session")
def other_user(anonymous: Api) -> TestUser:
    """A second user, who must never see or change `user`'s todos."""
    return register_user(anonymous.base_url)


@pytest.fixture(scope="session")
def api(anonymous: Api, user: TestUser) -> Api:
    """The write API of the test stack, signed in as `user`."""
    return anonymous.as_user(user)


@pytest.fixture(scope="session")
def other_api(anonymous: Api, other_user: TestUser) -> Api:
    """The write API of the test stack, signed in as `other_user`."""
    return anonymous.as_user(other_user)


@pytest.fixture(scope="session")
def commands(stack_env: dict[str, str], api: Api) -> Iterator[CommandTopic]:
    """The `todos` topic, read from its end as of the session's first use."""
    topic = CommandTopic(stack_env["KAFKA_BROKER_URL"])
    yield topic
    topic.close()


@pytest.fixture
def pg(stack: IsolatedStack) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the test stack's PostgreSQL (as the application user)."""
    conninfo = stack.addresses.postgres.conninfo
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as connection:
        yield connection


def sequence_last_value(pg: psycopg.Connection[Any]) -> int:
    """The highest id the todos sequence has handed out (0 if none)."""
    row = pg.execute(
        "SELECT pg_sequence_last_value(pg_get_serial_sequence('todos', 'id')::regclass)"
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
