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
from contracts.stores import bucket_of
from streams.app import app, connections
from streams.read_model import Page
from streams.read_model.page_cache import RenderedBucket
from streams.read_model.pages import walk_page

# The worker attaches the read API the same way (streams.worker); the probe is on for its test.
web_read.register(app, bench_probe=True)


class FakeReadModel:
    """Serves todos from a list through the real page walk over in-memory bucket documents."""

    def __init__(self) -> None:
        self.todos: list[dict[str, Any]] = []
        self.healthy = True

    def _buckets(self) -> dict[int, dict[str, Any]]:
        buckets: dict[int, dict[str, Any]] = {}
        for todo in sorted(self.todos, key=lambda t: t["id"]):
            buckets.setdefault(bucket_of(todo["id"]), {"todos": []})["todos"].append(todo)
        return buckets

    async def list_page(
        self,
        *,
        completed: bool | None,
        after: int | None,
        limit: int,
        writer_epoch: int | None = None,
    ) -> Page:
        buckets = self._buckets()
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
