"""The table's todo by id: only its owner gets it, in the public shape."""

from __future__ import annotations

import pytest

from contracts.records import Position, Todo
from streams.domain import Projection
from streams.tables import get_public_todo, todos_table

OWNER, OTHER = 7, 8


def _store(monkeypatch: pytest.MonkeyPatch, todo_id: int, todo: Todo | None) -> None:
    projection = Projection(todo=todo, position=Position(lsn=1, streamed=True, version=1))
    monkeypatch.setitem(todos_table.data, todo_id, projection.to_state())


def test_a_todo_is_answered_to_its_owner_only_and_without_the_owner(monkeypatch):
    todo = Todo(42, "mine", version=3, owner_id=OWNER)
    _store(monkeypatch, 42, todo)
    assert get_public_todo(42, OWNER) == todo.to_json()
    assert "owner_id" not in (get_public_todo(42, OWNER) or {})
    assert get_public_todo(42, OTHER) is None


def test_a_deleted_missing_or_ownerless_todo_is_none_for_everyone(monkeypatch):
    _store(monkeypatch, 43, None)
    _store(monkeypatch, 44, Todo(44, "captured before owners", owner_id=None))
    for todo_id in (43, 44, 45):
        assert get_public_todo(todo_id, OWNER) is None
