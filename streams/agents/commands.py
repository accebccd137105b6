"""Command agent: `todos` -> PostgreSQL, in batches, one transaction per batch."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import faust
from faust.types import EventT
from psycopg import DataError, IntegrityError, InternalError, NotSupportedError, ProgrammingError
from psycopg import Error as PostgresError
from psycopg_pool import PoolTimeout

from contracts.records import TodoCommand, decode_command
from streams.agents.pipeline import Writer, dead_letter, decode_batch, run_batches, write_isolating
from streams.app import app, connections, settings
from streams.monitoring import metrics
from streams.topics import commands_dlq_topic, commands_topic

log = logging.getLogger(__name__)
# Errors that the same command will raise again however often it is retried (a value
# PostgreSQL refuses, e.g. a NUL character in a title sent to Kafka by hand): retrying
# would block the partition forever, so the command that raises one is dead-lettered.
POISON_ERRORS = (DataError, IntegrityError, InternalError, NotSupportedError, ProgrammingError)


async def _apply(pairs: Sequence[tuple[EventT, TodoCommand]]) -> None:
    with metrics.timed(metrics.POSTGRESQL_WRITE_SECONDS):
        outcome = await connections.command_store.apply_batch([command for _, command in pairs])
    # Counted once the transaction committed: a batch rolled back and retried counts once.
    if metrics.ENABLED:
        metrics.COMMANDS_APPLIED.inc(outcome.applied)
        metrics.COMMANDS_REJECTED.inc(outcome.rejected)
        metrics.COMMANDS_DUPLICATE.inc(outcome.duplicates)
    log.debug("command batch: %s", outcome)


POSTGRESQL: Writer[tuple[EventT, TodoCommand]] = Writer(
    name="PostgreSQL",
    write=_apply,
    poison=POISON_ERRORS,
    transient=(PostgresError, PoolTimeout, OSError),
    refusal="PostgreSQL refused",
)


async def apply_batch(events: Sequence[EventT]) -> None:
    """Apply a batch of commands in order; dead-letter the undecodable and the refused."""
    if metrics.ENABLED:
        metrics.COMMAND_BATCH_SIZE.observe(len(events))
    decoded = await decode_batch(events, decode_command, commands_dlq_topic)
    refused = await write_isolating(POSTGRESQL, decoded)
    await dead_letter(commands_dlq_topic, [(event, reason) for (event, _), reason in refused])


@app.agent(commands_topic, name="apply_commands")
async def apply_commands(stream: faust.StreamT[Any]) -> None:
    """Apply each command to PostgreSQL; undecodable and refused ones go to `todos.dlq`."""
    await connections.open()
    # Events, not values: the batch keeps each record's key and offset for the DLQ, and
    # is acknowledged only after its transaction committed (see streams.agents.batches).
    await run_batches(
        stream, settings.command_batch_size, settings.command_batch_seconds, apply_batch
    )
