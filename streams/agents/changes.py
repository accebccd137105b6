"""CDC agent: `postgres.public.todos` -> MongoDB's bucket pages, then the `todos` table.

Each batch is folded per todo to its newest change (the pure `fold_changes`), merged into
the owners' bucket documents of the todos that moved under per-todo position guards
(`ReadModel.write`), then written to the table, and only then acknowledged. MongoDB first:
if the worker dies in between, the replay finds the table still older and merges again, and
the guards make that a no-op. A todo MongoDB refuses for good (a write error, not an outage)
has its change events dead-lettered instead of holding its partition. On start, once the
table is recovered, a read model still in an earlier layout is rebuilt from the table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import faust
from faust.types import EventT
from pymongo.errors import PyMongoError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from contracts.records import decode_change
from streams.agents.batches import acting_for
from streams.agents.pipeline import (
    Writer,
    dead_letter,
    decode_batch,
    run_batches,
    write_isolating,
)
from streams.app import app, connections, settings
from streams.domain import Projection, fold_changes
from streams.read_model import DocumentsRefusedError
from streams.read_model.migration import migrate_legacy_layout
from streams.tables import get_projection, put_projection, todos_table
from streams.topics import changes_dlq_topic, changes_topic

log = logging.getLogger(__name__)


async def _write_documents(projections: Sequence[tuple[int, Projection]]) -> None:
    await connections.read_model.write(dict(projections))


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


async def _write_rebuilt(projections: Mapping[int, Projection]) -> None:
    # No event to dead-letter here: a refused todo is logged and left out of the pages.
    for (todo_id, _), reason in await write_isolating(MONGODB, [*projections.items()]):
        log.error("todo %d left out of the rebuilt read model: %s", todo_id, reason)


def _table_projections() -> Iterator[tuple[int, Projection]]:
    for todo_id, state in todos_table.items():
        yield todo_id, Projection.from_state(state)


@app.task
async def migrate_read_model() -> None:
    """Rebuild an earlier layout's read model once the table is recovered (this worker's part)."""
    if project_changes not in app.agents.values():
        return  # only the worker that projects changes writes the read model
    await app.tables.recovery.completed.wait()  # type: ignore[attr-defined]
    await connections.open()
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(PyMongoError),
        wait=wait_exponential(multiplier=0.1, max=5.0),
        reraise=True,
    ):
        with attempt:
            model = connections.read_model
            await migrate_legacy_layout(model, _table_projections(), _write_rebuilt)
