"""Upgrade from the per-todo layout: rebuild the pages from the table, then drop the old one.

The Faust table holds every todo's newest projection (tombstones included), so it, not the
legacy collection, is the source. Writing is the CDC agent's own guarded merge, so running
it again after a crash midway (the legacy collection is still there) changes nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from itertools import islice

from streams.domain import Projection
from streams.read_model.model import ReadModel

log = logging.getLogger(__name__)

# Projections per write: a few hundred buckets' worth of documents per round of commands.
MIGRATION_CHUNK = 4096

Write = Callable[[Mapping[int, Projection]], Awaitable[object]]


async def migrate_legacy_layout(
    model: ReadModel, projections: Iterable[tuple[int, Projection]], write: Write
) -> int | None:
    """Rebuild the pages from `projections` if the legacy collection exists; return how many."""
    if not await model.has_legacy_layout():
        return None
    log.info("found the per-todo read model: rebuilding the pages from the table")
    moved = 0
    remaining = iter(projections)
    while chunk := dict(islice(remaining, MIGRATION_CHUNK)):
        await write(chunk)
        moved += len(chunk)
    await model.drop_legacy_layout()
    log.info("read model migrated: %d todos (tombstones included) written to pages", moved)
    return moved
