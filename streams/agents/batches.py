"""Batches of events that are acknowledged only once their effect is committed.

Not `stream.take()`: it acks its batch in a `finally` when a stop closes it mid-batch, so an
effect that never happened would be committed. Not `stream.noack_take()` either, though it
never acks: it waits its whole window however idle the stream is, and the window caps a
batch under lag at what the stream delivers in it (docs/decisions/consumer-commit-rule.md,
docs/decisions/change-batches.md). `unacked_batches` never acks; the agent acks after the
effect.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import faust
from faust.streams import _current_event  # the context variable behind current_event()
from faust.types import EventT
from mode.utils.futures import notify

#: A batch is handed over once no event came for this long: a quiet stream is not kept
#: waiting, while one under lag (events back to back) fills its batch up to the window.
IDLE_FLUSH_SECONDS = 0.002


async def unacked_batches(
    stream: faust.StreamT[Any], size: int, within: float, *, idle: float = IDLE_FLUSH_SECONDS
) -> AsyncIterator[Sequence[EventT]]:
    """Yield batches of up to `size` events, none acked.

    A batch starts with its first event and is handed over when it is full, when `idle`
    seconds pass without another event, or `within` seconds after it started.
    """
    buffer: list[EventT] = []
    arrived = asyncio.Event()  # the batch's first event
    drained = asyncio.Event()
    # Set while the agent handles a batch: the stream's drainer waits instead of adding.
    handling: asyncio.Future[None] | None = None

    async def add_to_buffer(value: Any) -> Any:
        # A stream processor: the passive drainer runs every event through it in turn.
        nonlocal handling
        if handling is not None:
            try:
                await handling
            finally:
                handling = None
        event = stream.current_event
        if event is None:
            raise RuntimeError("a batched stream found no current event")
        buffer.append(event)
        arrived.set()
        if len(buffer) >= size:
            # Never more than `size`: wait until the agent took this batch.
            drained.clear()
            await stream.wait(drained)  # type: ignore[attr-defined]  # a Service method
        return value

    was_acking = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(add_to_buffer)
    # As noack_take does: the stream is consumed in the background, into the buffer.
    stream._enable_passive(aiter(stream.channel))  # type: ignore[attr-defined]
    try:
        while not stream.should_stop:
            if await stream.wait_for_stopped(arrived):  # type: ignore[attr-defined]
                break
            deadline = time.monotonic() + within
            while len(buffer) < size:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                # A timer per `idle`, not a wait per event: those cost more than the event.
                held = len(buffer)
                await asyncio.sleep(min(idle, left))
                if len(buffer) == held:
                    break  # idle: nothing more came
            handling = asyncio.get_running_loop().create_future()
            try:
                yield list(buffer)
            finally:
                buffer.clear()
                arrived.clear()
                notify(handling)
                drained.set()
    finally:
        stream.enable_acks = was_acking
        stream._processors.remove(add_to_buffer)  # type: ignore[attr-defined]


async def ack_all(stream: faust.StreamT[Any], events: Sequence[EventT]) -> None:
    """Acknowledge the events: their offsets may now be committed."""
    for event in events:
        await stream.ack(event)


@contextmanager
def acting_for(event: EventT) -> Iterator[None]:
    """Make `event` the current event, as a table write needs it to be.

    A table write takes the changelog partition and the RocksDB partition from
    `faust.current_event()`. In a batch that is whatever event the stream buffered last,
    so each write is made on behalf of the event (of the same key) that caused it. Only
    the agent task's context variable is set, never `Stream.current_event`, which the
    stream's own buffering task reads.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
