"""The batch steps both agents share: decode, write with retry, isolate refusals, dead-letter.

A batch is acknowledged only after `handle` returns (`run_batches`), so everything here either
finishes the batch's effect or raises and leaves the batch to be read again. A dependency
that is unreachable holds the partition (the write is retried, never skipped); an item the
dependency refuses for good is dead-lettered with the reason so its batch mates go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import faust
from faust.types import EventT
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential

from contracts.records import DecodeError
from streams.agents.batches import ack_all, unacked_batches
from streams.dlq import send_to_dlq

log = logging.getLogger(__name__)

T = TypeVar("T")
Item = TypeVar("Item")

Errors = tuple[type[BaseException], ...]


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential waits between attempts: initial, doubled each time, up to maximum."""

    initial: float = 0.1
    maximum: float = 5.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


@dataclass(frozen=True)
class Writer(Generic[Item]):
    """A batch write and how to tell its failures apart."""

    #: Who is written to, for the log ("PostgreSQL").
    name: str
    #: Write the items in one go (one transaction, one round of commands).
    write: Callable[[Sequence[Item]], Awaitable[None]]
    #: Errors the same items raise however often they are retried: isolated, dead-lettered.
    poison: Errors
    #: Errors of an unreachable dependency: the write is retried and the batch held.
    transient: Errors
    #: How a dead letter's reason starts ("PostgreSQL refused").
    refusal: str
    backoff: Backoff = field(default_factory=Backoff)


async def run_batches(
    stream: faust.StreamT[Any],
    size: int,
    within: float,
    handle: Callable[[Sequence[EventT]], Awaitable[object]],
) -> None:
    """Hand each batch of events to `handle`, then acknowledge the whole batch."""
    async for events in unacked_batches(stream, size, within):
        await handle(events)
        await ack_all(stream, events)


async def decode_batch(
    events: Sequence[EventT],
    decode: Callable[[bytes | None, bytes | None], T | None],
    dead_letters: faust.TopicT,
) -> list[tuple[EventT, T]]:
    """Decode key and value of each event in order; dead-letter failures, drop None results."""
    decoded: list[tuple[EventT, T]] = []
    for event in events:
        try:
            value = decode(event.message.key, event.message.value)
        except DecodeError as exc:
            await send_to_dlq(dead_letters, event, str(exc))
            continue
        if value is not None:
            decoded.append((event, value))
    return decoded


async def write_with_retry(writer: Writer[Item], items: Sequence[Item]) -> None:
    """Write the items, waiting and retrying for as long as the failure is transient."""

    def is_transient(exc: BaseException) -> bool:
        return isinstance(exc, writer.transient) and not isinstance(exc, writer.poison)

    def log_retry(state: RetryCallState) -> None:
        assert state.outcome is not None and state.next_action is not None
        log.warning(
            "%s write of %d failed, retrying in %.1fs: %r",
            writer.name,
            len(items),
            state.next_action.sleep,
            state.outcome.exception(),
        )

    retrying = AsyncRetrying(
        retry=retry_if_exception(is_transient),
        wait=wait_exponential(multiplier=writer.backoff.initial, max=writer.backoff.maximum),
        sleep=writer.backoff.sleep,
        before_sleep=log_retry,
        reraise=True,
    )
    await retrying(writer.write, items)


async def write_isolating(writer: Writer[Item], items: Sequence[Item]) -> list[tuple[Item, str]]:
    """Write the items; return those refused for good, each with the reason.

    A refused batch rolled back whole (or wrote nothing the guard would not redo), so its
    items are written again one by one, in order: every good one is kept and only the
    refused ones come back.
    """
    if not items:
        return []
    try:
        await write_with_retry(writer, items)
    except writer.poison as exc:
        if len(items) == 1:
            return [(items[0], f"{writer.refusal}: {exc}")]
        log.warning(
            "%s refused a batch of %d (%r): writing one by one", writer.name, len(items), exc
        )
        refused: list[tuple[Item, str]] = []
        for item in items:
            refused.extend(await write_isolating(writer, [item]))
        return refused
    return []


async def dead_letter(dead_letters: faust.TopicT, refused: Iterable[tuple[EventT, str]]) -> None:
    """Dead-letter each event with its reason, in order."""
    for event, reason in refused:
        await send_to_dlq(dead_letters, event, reason)
