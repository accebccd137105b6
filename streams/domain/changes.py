"""How a change event moves the read model's view of one todo."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from contracts.records import ChangeEvent, Position, Todo


@dataclass(frozen=True)
class Projection:
    """The read model's view of one todo: its latest row (None once deleted) and position.

    A deleted todo keeps its projection as a tombstone so that a replayed older event can
    never bring it back.
    """

    todo: Todo | None
    position: Position

    def to_state(self) -> dict[str, Any]:
        """Return the JSON-able form stored in the Faust table."""
        return {
            "todo": None if self.todo is None else self.todo.to_state(),
            "position": self.position.key(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Projection:
        """Rebuild a projection from `to_state` output."""
        todo = state.get("todo")
        return cls(
            todo=None if todo is None else Todo.from_state(todo),
            position=Position.from_key(state["position"]),
        )


def project_change(current: Projection | None, change: ChangeEvent) -> Projection | None:
    """Return the new projection, or None when the change is not newer than `current`."""
    if current is not None and change.position <= current.position:
        return None
    return Projection(todo=change.after, position=change.position)


def fold_changes(
    current: Callable[[int], Projection | None], changes: Iterable[ChangeEvent]
) -> dict[int, Projection]:
    """Fold a batch of changes by `project_change`; return only the todos whose view moved.

    `current(todo_id)` is the view held before the batch. Each todo ends at its newest
    change, whatever order the batch holds them in, and a change not newer than the view is
    dropped, exactly as if the changes were projected one at a time.
    """
    views: dict[int, Projection | None] = {}
    moved: dict[int, Projection] = {}
    for change in changes:
        todo_id = change.todo_id
        if todo_id not in views:
            views[todo_id] = current(todo_id)
        projection = project_change(views[todo_id], change)
        if projection is not None:
            views[todo_id] = moved[todo_id] = projection
    return moved
