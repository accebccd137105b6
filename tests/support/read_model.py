"""The read model in tests: sample projections, and walks of the list pages as clients do."""

from __future__ import annotations

from contracts.records import Position, Todo
from streams.domain import Projection
from streams.read_model import ReadModel

#: The owner of every sample projection.
SAMPLE_OWNER = 7


def projection(todo_id: int, lsn: int, title: str | None = "t", done: bool = False) -> Projection:
    """A todo of SAMPLE_OWNER at `lsn`; title None: its delete."""
    position = Position(lsn=lsn, streamed=True, version=1)
    if title is None:
        return Projection(todo=None, position=position, former_owners=frozenset({SAMPLE_OWNER}))
    todo = Todo(todo_id, title, completed=done, version=1, owner_id=SAMPLE_OWNER)
    return Projection(todo, position)


async def walk_ids(
    model: ReadModel, *, owner: int, limit: int, completed: bool | None = None
) -> list[int]:
    """Every id one owner's list returns, page after page, in the order given."""
    ids: list[int] = []
    after: int | None = None
    while True:
        page = await model.list_page(owner_id=owner, completed=completed, after=after, limit=limit)
        ids.extend(t["id"] for t in page.todos)
        if page.next_after is None:
            return ids
        after = page.next_after
