"""The read API under aiohttp's test client, with a fake read model: no services needed."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

# Before streams.app is imported: its table must never touch RocksDB files here.
os.environ.setdefault("STREAMS_TABLE_STORE", "memory://")

from faust.exceptions import SameNode

import web_read
from streams.app import app, connections

# The worker attaches the read API the same way (streams.worker); the probe is on for its test.
web_read.register(app, bench_probe=True)


class FakeReadModel:
    """Serves todos from a list, the way ReadModel queries MongoDB."""

    def __init__(self) -> None:
        self.todos: list[dict[str, Any]] = []
        self.healthy = True

    async def list_todos(
        self, *, completed: bool | None, after: int | None, limit: int
    ) -> list[dict[str, Any]]:
        found = [
            t
            for t in sorted(self.todos, key=lambda t: t["id"])
            if (completed is None or t["completed"] is completed)
            and (after is None or t["id"] > after)
        ]
        return found[:limit]

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


@pytest.fixture
def same_node(monkeypatch) -> None:
    """Make table_route answer locally, as the owner of every partition would."""

    async def local(*args: Any, **kwargs: Any) -> Any:
        raise SameNode()

    monkeypatch.setattr(app.router, "route_req", local)


@pytest.fixture
async def client(read_model, same_node) -> AsyncIterator[TestClient]:
    """An HTTP client for the worker's web app."""
    # A fresh aiohttp app per test (each test has its own loop) with the worker's routes.
    web_app = web.Application()
    for route in app.web.web_app.router.routes():  # type: ignore[attr-defined]
        web_app.router.add_route(route.method, route.resource.canonical, route.handler)
    async with TestClient(TestServer(web_app)) as test_client:
        yield test_client
