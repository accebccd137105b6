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
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import faust
from faust.types import EventT
from pymongo.errors import PyMongoError
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from contracts.records import ChangeEvent, decode_change
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
from streams.monitoring import latency, metrics
from streams.read_model import DocumentsRefusedError
from streams.read_model.migration import migrate_legacy_layout
from streams.tables import get_projection, put_projection, todos_table
from streams.topics import changes_dlq_topic, changes_topic

log = logging.getLogger(__name__)


async def _write_documents(projections: Sequence[tuple[int, Projection]]) -> None:
    with metrics.timed(metrics.MONGODB_WRITE_SECONDS):
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


def fresh_changes(
    before: Mapping[int, Projection | None], changes: Iterable[ChangeEvent]
) -> list[ChangeEvent]:
    """Return the changes that move their todo's view, in order (the rest are stale)."""
    latest = {todo_id: p.position for todo_id, p in before.items() if p is not None}
    fresh: list[ChangeEvent] = []
    for change in changes:
        seen = latest.get(change.todo_id)
        if seen is None or change.position > seen:
            latest[change.todo_id] = change.position
            fresh.append(change)
    return fresh


async def project_batch(events: Sequence[EventT]) -> int:
    """Project a batch into MongoDB, then the table; return how many todos moved."""
    # A tombstone decodes to None and is dropped: the `d` event before it did the work.
    changes = await decode_batch(events, decode_change, changes_dlq_topic)
    if metrics.ENABLED:
        metrics.CHANGE_BATCH_SIZE.observe(len(events))
        _time_arrivals(change for _, change in changes)
    before: dict[int, Projection | None] = {}

    def current(todo_id: int) -> Projection | None:
        # The view before the batch, read once per todo and kept to tell stale changes apart.
        if todo_id not in before:
            before[todo_id] = get_projection(todo_id)
        return before[todo_id]

    moved = fold_changes(current, (change for _, change in changes))
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
    if metrics.ENABLED:
        _count(fresh_changes(before, (change for _, change in changes)), len(changes), refused)
    return len(moved) - len(refused)


def _time_arrivals(changes: Iterable[ChangeEvent]) -> None:
    """Sample each change's capture delay, from its commit to now."""
    arrived = time.time()
    for change in changes:
        if (delay := latency.capture_delay(change, arrived)) is not None:
            metrics.CAPTURE_DELAY_SECONDS.observe(delay)


def _count(fresh: Sequence[ChangeEvent], decoded: int, refused: Mapping[int, str]) -> None:
    """Count the batch's outcomes; every fresh change of a written todo is now readable."""
    readable = time.time()
    projected = 0
    for change in fresh:
        if change.todo_id in refused:
            continue  # counted as dead-lettered by the DLQ
        projected += 1
        if (seconds := latency.write_to_readable(change, readable)) is not None:
            metrics.WRITE_TO_READABLE_SECONDS.observe(seconds)
    # Once per batch: a counter's increment takes a lock.
    metrics.CHANGES_PROJECTED.inc(projected)
    metrics.CHANGES_STALE.inc(decoded - len(fresh))


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
