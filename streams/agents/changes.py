"""CDC agent: `postgres.public.todos` -> the `todos` table and MongoDB."""

from __future__ import annotations

import asyncio
import logging

import faust
from pymongo.errors import PyMongoError

from streams.app import app, connections
from streams.dlq import send_to_dlq
from streams.domain import Projection, project_change
from streams.records import ChangeEvent, DecodeError, decode_change
from streams.tables import get_projection, put_projection
from streams.topics import changes_dlq_topic, changes_topic

log = logging.getLogger(__name__)
RETRY_MAX_SECONDS = 5.0


async def write_read_model(todo_id: int, projection: Projection) -> None:
    """Write MongoDB, retrying while it is unreachable (the event stays unacknowledged)."""
    delay = 0.1
    while True:
        try:
            await connections.read_model.write(todo_id, projection)
            return
        except PyMongoError as exc:
            log.warning(
                "MongoDB write of todo %d failed, retrying in %.1fs: %r", todo_id, delay, exc
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)


async def project(change: ChangeEvent) -> bool:
    """Apply one change to MongoDB then to the table, unless it is not newer; True if applied.

    MongoDB first: if the worker dies in between, the replay finds the table still older
    and writes again, and MongoDB's own position guard makes that second write a no-op.
    """
    projection = project_change(get_projection(change.todo_id), change)
    if projection is None:
        return False
    await write_read_model(change.todo_id, projection)
    put_projection(change.todo_id, projection)
    return True


@app.agent(changes_topic, name="project_changes")
async def project_changes(stream: faust.StreamT[bytes]) -> None:
    """Keep the table and MongoDB at each todo's newest row; bad events go to the DLQ."""
    await connections.open()
    async for event in stream.events():
        try:
            change = decode_change(event.message.key, event.message.value)
        except DecodeError as exc:
            await send_to_dlq(changes_dlq_topic, event, str(exc))
            continue
        if change is not None:  # None is a tombstone: the `d` event before it did the work
            await project(change)
