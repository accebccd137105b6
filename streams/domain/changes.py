"""How a change event moves the read model's view of one todo."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
    # Owners whose lists the todo leaves with this projection (the old owner of a
    # reassignment or a delete). Not stored in the table: only the write of this projection
    # to the read model needs it; the next change reads the owner off `todo`.
    former_owners: frozenset[int] = field(default=frozenset())

    @property
    def owner_id(self) -> int | None:
        """Return whose list the todo is in: None once deleted or when captured without owner."""
        return None if self.todo is None else self.todo.owner_id

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
    """Return the new projection, or None when the change is not newer than `current`.

    Its `former_owners` are those of `current` plus the owner `current` and the change's
    `before` name, but the new owner: every list the todo may still be in elsewhere.
    """
    if current is not None and change.position <= current.position:
        return None
    former = set(current.former_owners) if current is not None else set()
    if current is not None and current.owner_id is not None:
        former.add(current.owner_id)
    if change.before_owner_id is not None:
        former.add(change.before_owner_id)
    if change.after is not None and change.after.owner_id is not None:
        former.discard(change.after.owner_id)
    return Projection(todo=change.after, position=change.position, former_owners=frozenset(former))


def fold_changes(
    current: Callable[[int], Projection | None], changes: Iterable[ChangeEvent]
) -> dict[int, Projection]:
    """Fold a batch of changes by `project_change`; return only the todos whose view moved.

    `current(todo_id)` is the view held before the batch. Each todo ends at its newest
    change, whatever order the batch holds them in, and a change not newer than the view is
    dropped, exactly as if the changes were projected one at a time (so the owners a todo
    had during the batch all end up in `former_owners`).
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
