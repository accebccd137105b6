"""Agents under test use Faust's memory store and fake clients: no services needed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pytest

# Before streams.app is imported: its table must never touch RocksDB files here.
os.environ.setdefault("STREAMS_TABLE_STORE", "memory://")

from contracts.records import TodoCommand
from streams.app import app, connections
from streams.domain import Projection
from streams.postgres import BatchOutcome


class FakeCommandStore:
    """Records the batches the command agent applies."""

    def __init__(self) -> None:
        self.batches: list[list[TodoCommand]] = []

    async def apply_batch(self, commands: list[TodoCommand]) -> BatchOutcome:
        self.batches.append(list(commands))
        return BatchOutcome(applied=len(commands))


class FakeReadModel:
    """Keeps every projection written, and the newest per todo under the position guard."""

    def __init__(self) -> None:
        self.writes: list[tuple[int, Projection]] = []
        self.documents: dict[int, Projection] = {}

    async def write(self, projections: Mapping[int, Projection]) -> int:
        stale = 0
        for todo_id, projection in projections.items():
            self.writes.append((todo_id, projection))
            held = self.documents.get(todo_id)
            if held is not None and held.position >= projection.position:
                stale += 1
            else:
                self.documents[todo_id] = projection
        return stale


@pytest.fixture
def fakes(monkeypatch) -> Any:
    """Swap the worker's clients for fakes and use the memory table store."""
    assert str(app.conf.store) == "memory:", "streams.app was imported before this conftest"
    store, model = FakeCommandStore(), FakeReadModel()
    use_clients(monkeypatch, command_store=store, read_model=model)
    return store, model


def use_clients(monkeypatch: pytest.MonkeyPatch, **clients: Any) -> None:
    """Give the worker's connections these clients, already open."""
    for name, client in clients.items():
        monkeypatch.setattr(connections, name, client)
    monkeypatch.setattr(connections, "_opened", True)


@pytest.fixture
def dead_letters(monkeypatch) -> list[tuple[str, bytes | None, str]]:
    """Capture dead letters instead of producing them."""
    sent: list[tuple[str, bytes | None, str]] = []

    async def capture(topic: Any, event: Any, reason: str) -> None:
        sent.append((topic.get_topic_name(), event.message.value, reason))

    monkeypatch.setattr("streams.agents.pipeline.send_to_dlq", capture)
    return sent
