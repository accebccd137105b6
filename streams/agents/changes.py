"""CDC agent: `postgres.public.todos` -> MongoDB, then the `todos` table, in batches.

Each batch is folded per todo to its newest change (the pure `fold_changes`), written to
MongoDB in few round trips under the position guard (`ReadModel.write_many`), then to the
table, and only then acknowledged. MongoDB first: if the worker dies in between, the replay
finds the table still older and writes again, and MongoDB's guard makes that a no-op. A todo
MongoDB refuses for good (a write error, not an outage) has its change events dead-lettered
instead of holding its partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import faust
from faust.types import EventT
from pymongo.errors import PyMongoError

from contracts.records import ChangeEvent, DecodeError, decode_change
from streams.agents.batches import ack_all, acting_for, unacked_batches
from streams.app import app, connections, settings
from streams.dlq import send_to_dlq
from streams.domain import Projection, fold_changes
from streams.mongo import DocumentsRefusedError
from streams.tables import get_projection, put_projection
from streams.topics import changes_dlq_topic, changes_topic

log = logging.getLogger(__name__)
RETRY_MAX_SECONDS = 5.0


async def write_read_model(projections: Mapping[int, Projection]) -> dict[int, str]:
    """Write MongoDB, retrying while it fails; return the todos it refused, with the reason.

    A batch the server refuses in part is written again one todo at a time, so the refused
    ones are known exactly (FerretDB names the failing statement of an update wrongly).
    """
    try:
        await _write_retrying(projections)
    except DocumentsRefusedError as exc:
        if len(projections) == 1:
            return {todo_id: f"MongoDB refused the document: {exc}" for todo_id in projections}
        refused: dict[int, str] = {}
        for todo_id, projection in projections.items():
            refused.update(await write_read_model({todo_id: projection}))
        return refused
    return {}


async def _write_retrying(projections: Mapping[int, Projection]) -> None:
    """Write MongoDB until it works or refuses documents (the batch stays unacknowledged)."""
    delay = 0.1
    while True:
        try:
            stale = await connections.read_model.write_many(projections)
        except DocumentsRefusedError:
            raise
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
    refused = await write_read_model(moved)
    for change, event in changes:
        if change.todo_id in refused:
            await send_to_dlq(changes_dlq_topic, event, refused[change.todo_id])
    # Each table write goes to the partition of an event of its own todo (same key). A todo
    # MongoDB refused stays as it was in the table too, so both read paths agree.
    cause = {change.todo_id: event for change, event in changes}
    for todo_id, projection in moved.items():
        if todo_id not in refused:
            with acting_for(cause[todo_id]):
                put_projection(todo_id, projection)
    return len(moved) - len(refused)


@app.agent(changes_topic, name="project_changes")
async def project_changes(stream: faust.StreamT[Any]) -> None:
    """Keep MongoDB and the table at each todo's newest row; bad events go to the DLQ."""
    await connections.open()
    async for events in unacked_batches(
        stream, settings.change_batch_size, settings.change_batch_seconds
    ):
        await project_batch(events)
        await ack_all(stream, events)
