"""CDC agent: `postgres.public.todos` -> MongoDB, then the `todos` table, in batches.

Each batch is folded per todo to its newest change (the pure `fold_changes`), written to
MongoDB in few round trips under the position guard (`ReadModel.write_many`), then to the
table, and only then acknowledged. MongoDB first: if the worker dies in between, the replay
finds the table still older and writes again, and MongoDB's guard makes that a no-op. A todo
MongoDB refuses for good (a write error, not an outage) has its change events dead-lettered
instead of holding its partition.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import faust
from faust.types import EventT
from pymongo.errors import PyMongoError

from contracts.records import decode_change
from streams.agents.batches import acting_for
from streams.agents.pipeline import Writer, dead_letter, decode_batch, run_batches, write_isolating
from streams.app import app, connections, settings
from streams.domain import Projection, fold_changes
from streams.mongo import DocumentsRefusedError
from streams.tables import get_projection, put_projection
from streams.topics import changes_dlq_topic, changes_topic

log = logging.getLogger(__name__)


async def _write_documents(projections: Sequence[tuple[int, Projection]]) -> None:
    stale = await connections.read_model.write_many(dict(projections))
    if stale:
        log.debug("%d of %d todos were already in MongoDB", stale, len(projections))


# FerretDB names the failing statement of a refused update wrongly, so a refused batch is
# written again one todo at a time to know exactly which todos were refused.
MONGODB: Writer[tuple[int, Projection]] = Writer(
    name="MongoDB",
    write=_write_documents,
    poison=(DocumentsRefusedError,),
    transient=(PyMongoError,),
    refusal="MongoDB refused the document",
)


async def project_batch(events: Sequence[EventT]) -> int:
    """Project a batch into MongoDB, then the table; return how many todos moved."""
    # A tombstone decodes to None and is dropped: the `d` event before it did the work.
    changes = await decode_batch(events, decode_change, changes_dlq_topic)
    moved = fold_changes(get_projection, (change for _, change in changes))
    refused = {
        todo_id: reason for (todo_id, _), reason in await write_isolating(MONGODB, [*moved.items()])
    }
    await dead_letter(
        changes_dlq_topic,
        [
            (event, refused[change.todo_id])
            for event, change in changes
            if change.todo_id in refused
        ],
    )
    # Each table write goes to the partition of an event of its own todo (same key). A todo
    # MongoDB refused stays as it was in the table too, so both read paths agree.
    cause = {change.todo_id: event for event, change in changes}
    for todo_id, projection in moved.items():
        if todo_id not in refused:
            with acting_for(cause[todo_id]):
                put_projection(todo_id, projection)
    return len(moved) - len(refused)


@app.agent(changes_topic, name="project_changes")
async def project_changes(stream: faust.StreamT[Any]) -> None:
    """Keep MongoDB and the table at each todo's newest row; bad events go to the DLQ."""
    await connections.open()
    await run_batches(
        stream, settings.change_batch_size, settings.change_batch_seconds, project_batch
    )
