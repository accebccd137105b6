"""The read API under aiohttp's test client, with a fake read model: no services needed."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

# Before streams.app is imported: its table must never touch RocksDB files here.
os.environ.setdefault("STREAMS_TABLE_STORE", "memory://")

from faust.exceptions import SameNode

import web_read
import web_read.auth
from contracts.stores import bucket_of, pack
from streams.app import app, connections
from streams.monitoring import dependencies
from streams.monitoring.dependencies import DependencyWatch
from streams.read_model import Page
from streams.read_model.page_cache import RenderedBucket
from streams.read_model.pages import walk_page
from streams.tables import public_todo, todos_table
from streams.users import DenyList
from tests.unit.web_read.tokens import CALLER, Tokens
from web_read.auth import TokenVerifier

# The worker attaches the read API the same way (streams.worker); the probe is on for its test.
web_read.register(app, bench_probe=True)


class FakeReadModel:
    """Serves todos from a list through the real page walk over in-memory bucket documents."""

    def __init__(self) -> None:
        # Public todos, each optionally with an `owner_id` (CALLER when absent).
        self.todos: list[dict[str, Any]] = []
        self.healthy = True
        self.asked_owners: list[int] = []

    def _buckets(self, owner_id: int) -> dict[int, dict[str, Any]]:
        """The owner's bucket documents as stored: each bucket's todos packed."""
        listed: dict[int, list[dict[str, Any]]] = {}
        for todo in sorted(self.todos, key=lambda t: t["id"]):
            if todo.get("owner_id", CALLER) != owner_id:
                continue
            public = {k: v for k, v in todo.items() if k != "owner_id"}
            listed.setdefault(bucket_of(todo["id"]), []).append(public)
        return {bucket: {"todos": pack(todos)} for bucket, todos in listed.items()}

    async def list_page(
        self,
        *,
        owner_id: int,
        completed: bool | None,
        after: int | None,
        limit: int,
        writer_epoch: int | None = None,
    ) -> Page:
        self.asked_owners.append(owner_id)
        buckets = self._buckets(owner_id)
        listed = sorted(buckets)

        async def window(first: int, count: int) -> tuple[list[int], bool]:
            chosen = [b for b in listed if b >= first]
            return chosen[:count], len(chosen) > count

        async def read(keys: Iterable[int]) -> dict[int, RenderedBucket | None]:
            return {
                key: RenderedBucket.of(str(key), buckets[key]) if key in buckets else None
                for key in keys
            }

        return await walk_page(window, read, after=after or 0, completed=completed, limit=limit)

    async def ping(self) -> None:
        if not self.healthy:
            raise ConnectionError("down")


@pytest.fixture
def read_model(monkeypatch) -> FakeReadModel:
    """Swap MongoDB for a fake."""
    model = FakeReadModel()
    monkeypatch.setattr(connections, "read_model", model)
    monkeypatch.setattr(connections, "_opened", True)
    return model


@pytest.fixture(autouse=True)
def fresh_dependency_watch(monkeypatch) -> DependencyWatch:
    """A watch no probe has run on, in place of the worker's (its state is global)."""
    fresh = DependencyWatch(dependencies.DEPENDENCIES)
    monkeypatch.setattr(dependencies, "watch", fresh)
    return fresh


@pytest.fixture
def same_node(monkeypatch) -> None:
    """Make table_route answer locally, as the owner of every partition would."""

    async def local(*args: Any, **kwargs: Any) -> Any:
        raise SameNode()

    monkeypatch.setattr(app.router, "route_req", local)


@pytest.fixture
def tokens(tmp_path, monkeypatch) -> Tokens:
    """A key pair, and the read API verifying with its public half."""
    made = Tokens(tmp_path)
    monkeypatch.setattr(web_read.auth, "_verifier", TokenVerifier(made.verifying_dir))
    return made


@pytest.fixture
def deny_list(monkeypatch) -> DenyList:
    """An empty users deny list in place of the worker's."""
    fresh = DenyList()
    monkeypatch.setattr("streams.users.deny_list", fresh)
    return fresh


def owners_public_todo(todo_id: int, owner_id: int) -> dict[str, Any] | None:
    """The owner-aware table lookup (streams.tables.get_public_todo), over the test's table."""
    state = todos_table.data.get(todo_id)
    if state is None or state.get("todo") is None:
        return None
    if state["todo"].get("owner_id") != owner_id:
        return None
    return public_todo(state)


@pytest.fixture
def owned_table(monkeypatch) -> None:
    """Answer the detail from the table as the owner-aware lookup does."""
    monkeypatch.setattr("web_read.views.get_public_todo", owners_public_todo)


def _web_app() -> web.Application:
    # A fresh aiohttp app per test (each test has its own loop) with the worker's routes.
    web_app = web.Application()
    for route in app.web.web_app.router.routes():  # type: ignore[attr-defined]
        web_app.router.add_route(route.method, route.resource.canonical, route.handler)
    return web_app


@pytest.fixture
async def client(
    read_model, same_node, tokens, deny_list, owned_table
) -> AsyncIterator[TestClient]:
    """An HTTP client for the worker's web app, sending CALLER's access token."""
    async with TestClient(TestServer(_web_app()), headers=tokens.header()) as test_client:
        yield test_client


@pytest.fixture
async def anonymous(
    read_model, same_node, tokens, deny_list, owned_table
) -> AsyncIterator[TestClient]:
    """An HTTP client for the worker's web app, sending no credentials."""
    async with TestClient(TestServer(_web_app())) as test_client:
        yield test_client
