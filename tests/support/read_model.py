"""Walks of the read model's list pages, the way the read API's clients follow `Link`."""

from __future__ import annotations

from streams.read_model import ReadModel


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
