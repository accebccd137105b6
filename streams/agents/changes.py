"""CDC agent: `postgres.public.todos` -> MongoDB, then the `todos` table, in batches.

Each batch is folded per todo to its newest change (the pure `fold_changes`), written to
MongoDB in few round trips under the position guard (`ReadModel.write_many`), then to the
table, and only then acknowledged. MongoDB first: if the worker dies in between, the replay
finds the table still older and writes again, and MongoDB's guard makes that a no-op.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import faust
from faust.types import EventT
from pymongo.errors import PyMongoError

from streams.agents.batches import ack_all, acting_for, unacked_batches
from streams.app import app, connections, settings
from streams.dlq import send_to_dlq
from streams.domain import Projection, fold_changes
from streams.records import ChangeEvent, DecodeError, decode_change
from streams.tables import get_projection, put_projection
from streams.topics import changes_dlq_topic, changes_topic

log = logging.getLogger(__name__)
RETRY_MAX_SECONDS = 5.0


async def write_read_model(projections: Mapping[int, Projection]) -> None:
    """Write MongoDB, retrying while it fails (the batch stays unacknowledged meanwhile)."""
    delay = 0.1
    while True:
        try:
            stale = await connections.read_model.write_many(projections)
        except PyMongoError as exc:
            log.warning(
                "MongoDB write of %d todos failed, retrying in %.1fs: %r",
                len(projections),
                delay,
                exc,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)
            continue
        if stale:
            log.debug("%d of %d todos were already in MongoDB", stale, len(projections))
        return


async def decode_batch(events: Sequence[EventT]) -> list[tuple[ChangeEvent, EventT]]:
    """Decode a batch in order; dead-letter what can't be decoded, drop tombstones."""
    changes: list[tuple[ChangeEvent, EventT]] = []
    for event in events:
        try:
            change = decode_change(event.message.key, event.message.value)
        except DecodeError as exc:
            await send_to_dlq(changes_dlq_topic, event, str(exc))
            continue
        if change is not None:  # None is a tombstone: the `d` event before it did the work
            changes.append((change, event))
    return changes


async def project_batch(events: Sequence[EventT]) -> int:
    """Project a batch into MongoDB, then the table; return how many todos moved."""
    changes = await decode_batch(events)
    moved = fold_changes(get_projection, (change for change, _ in changes))
    if not moved:
        return 0
    await write_read_model(moved)
    # Each table write goes to the partition of an event of its own todo (same key).
    cause = {change.todo_id: event for change, event in changes}
    for todo_id, projection in moved.items():
        with acting_for(cause[todo_id]):
            put_projection(todo_id, projection)
    return len(moved)


@app.agent(changes_topic, name="project_changes")
async def project_changes(stream: faust.StreamT[Any]) -> None:
    """Keep MongoDB and the table at each todo's newest row; bad events go to the DLQ."""
    await connections.open()
    async for events in unacked_batches(
        stream, settings.change_batch_size, settings.change_batch_seconds
    ):
        await project_batch(events)
        await ack_all(stream, events)
