"""The detail view answers the table's stored state as `Projection` would render it."""

from __future__ import annotations

import pytest

from contracts.records import Position, Todo, parse_time
from streams.domain import Projection
from streams.tables import public_todo

MOMENT = parse_time("2026-11-27T19:42:00.123456Z")
POSITION = Position(lsn=7, streamed=True, version=3)


def _rendered(state: dict) -> dict | None:
    todo = Projection.from_state(state).todo
    return None if todo is None else todo.to_json()


@pytest.mark.parametrize(
    "todo",
    [
        Todo(42, "Learn Kafka", "EDA", True, MOMENT, MOMENT, 2),
        Todo(1, "no times yet", created_at=None, updated_at=None),
        Todo(9_223_372_036_854_775_807, "é\u2028\U0001f600", "x" * 5000, False, MOMENT, None, 1),
    ],
)
def test_a_stored_todo_is_answered_exactly_as_its_projection_renders(todo):
    state = Projection(todo=todo, position=POSITION).to_state()
    assert public_todo(state) == _rendered(state) == todo.to_json()
    assert list(public_todo(state) or {}) == list(todo.to_json())  # the same key order


def test_a_tombstone_is_none():
    assert public_todo(Projection(todo=None, position=POSITION).to_state()) is None


@pytest.mark.parametrize(
    "stored",
    [
        # Not the form to_state writes: rebuilt through Projection, so rendered the same way.
        {"id": 5, "title": "no version", "created_at": "2026-11-27T19:42:00+00:00"},
        {
            "id": 5,
            "title": "t",
            "description": None,
            "completed": 1,
            "version": 2,
            "created_at": "2026-11-27T19:42:00.123456",
            "updated_at": None,
        },
        {
            "id": "5",
            "title": "t",
            "description": "",
            "completed": False,
            "version": 1,
            "created_at": None,
            "updated_at": None,
        },
    ],
)
def test_any_other_stored_shape_is_rendered_through_the_projection(stored):
    state = {"todo": stored, "position": POSITION.key()}
    assert public_todo(state) == _rendered(state)
    assert public_todo(state) is not None
