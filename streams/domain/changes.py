"""How a change event moves the read model's view of one todo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.records import ChangeEvent, Position, Todo


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
