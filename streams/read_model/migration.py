"""Upgrade from an earlier layout: rebuild the pages from the table, then drop the old ones.

Earlier layouts (contracts.stores.SUPERSEDED_READ_MODEL_COLLECTIONS): issue 11's bucket
pages without owners, and the first per-todo collection. The Faust table holds every todo's
newest projection with its owner, so it, not the old collections, is the source (its
tombstones and ownerless rows list nothing: the CDC agent's own deletes still write theirs,
which is what guards against a replay while MongoDB is ahead of the table). Writing is the
CDC agent's own guarded merge, so running it again after a crash midway (the old
collections are still there) changes nothing twice.
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
    """Rebuild the pages from `projections` if an earlier layout exists; return how many."""
    superseded = await model.superseded_collections()
    if not superseded:
        return None
    log.info("found the read model's earlier layout %s: rebuilding from the table", superseded)
    moved = 0
    remaining = iter(projections)
    while chunk := dict(islice(remaining, MIGRATION_CHUNK)):
        await write(chunk)
        moved += len(chunk)
    # Only once every projection is written: a crash before leaves them, so it runs again.
    await model.drop_collections(superseded)
    log.info("read model migrated: %d projections of the table merged into pages", moved)
    return moved
