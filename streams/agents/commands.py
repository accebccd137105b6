"""Command agent: `todos` -> PostgreSQL, in batches, one transaction per batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import faust
from faust.types import EventT
from psycopg import DataError, IntegrityError, InternalError, NotSupportedError, ProgrammingError
from psycopg import Error as PostgresError
from psycopg_pool import PoolTimeout

from contracts.records import DecodeError, TodoCommand, decode_command
from streams.agents.batches import ack_all, unacked_batches
from streams.app import app, connections, settings
from streams.dlq import send_to_dlq
from streams.topics import commands_dlq_topic, commands_topic

log = logging.getLogger(__name__)
RETRY_MAX_SECONDS = 5.0
# Errors that the same command will raise again however often it is retried (a value
# PostgreSQL refuses, e.g. a NUL character in a title sent to Kafka by hand): retrying
# would block the partition forever, so the command that raises one is dead-lettered.
POISON_ERRORS = (DataError, IntegrityError, InternalError, NotSupportedError, ProgrammingError)


async def decode_batch(events: Sequence[EventT]) -> list[tuple[EventT, TodoCommand]]:
    """Decode a batch, dead-lettering what can't be decoded, keeping the order of the rest."""
    decoded: list[tuple[EventT, TodoCommand]] = []
    for event in events:
        try:
            decoded.append((event, decode_command(event.message.key, event.message.value)))
        except DecodeError as exc:
            await send_to_dlq(commands_dlq_topic, event, str(exc))
    return decoded


async def apply_isolating_poison(decoded: Sequence[tuple[EventT, TodoCommand]]) -> None:
    """Apply a batch; if PostgreSQL refuses it, apply its commands one by one.

    The batch's transaction rolled back whole, so applying each command alone (in order)
    keeps every good one and dead-letters only the command PostgreSQL refuses.
    """
    try:
        await apply_with_retry([command for _, command in decoded])
    except POISON_ERRORS as exc:
        if len(decoded) == 1:
            await send_to_dlq(commands_dlq_topic, decoded[0][0], f"PostgreSQL refused: {exc}")
            return
        log.warning("command batch of %d refused (%r): applying one by one", len(decoded), exc)
        for pair in decoded:
            await apply_isolating_poison([pair])


async def apply_with_retry(commands: Sequence[TodoCommand]) -> None:
    """Apply a batch, retrying while PostgreSQL is unreachable.

    The batch is not acknowledged until this returns, so a pause here holds the partition
    (keeping each todo's commands in order) instead of skipping commands.
    """
    delay = 0.1
    while True:
        try:
            outcome = await connections.command_store.apply_batch(commands)
        except POISON_ERRORS:
            raise
        except (PostgresError, PoolTimeout, OSError) as exc:
            log.warning(
                "command batch of %d failed, retrying in %.1fs: %r", len(commands), delay, exc
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)
            continue
        log.debug("command batch: %s", outcome)
        return


@app.agent(commands_topic, name="apply_commands")
async def apply_commands(stream: faust.StreamT[Any]) -> None:
    """Apply each command to PostgreSQL; undecodable ones go to `todos.dlq`."""
    await connections.open()
    # Events, not values: the batch keeps each record's key and offset for the DLQ, and
    # is acknowledged only after its transaction committed (see streams.agents.batches).
    async for events in unacked_batches(
        stream, settings.command_batch_size, settings.command_batch_seconds
    ):
        decoded = await decode_batch(events)
        if decoded:
            await apply_isolating_poison(decoded)
        await ack_all(stream, events)
