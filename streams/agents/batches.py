"""Batches of events that are acknowledged only once their effect is committed.

Not `stream.take()`: it acks its batch in a `finally` when a stop closes it mid-batch, so an
effect that never happened would be committed. `noack_take` never acks; the agent acks after
the effect (docs/decisions/consumer-commit-rule.md).
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import faust
from faust.streams import _current_event  # the context variable behind current_event()
from faust.types import EventT


async def unacked_batches(
    stream: faust.StreamT[Any], size: int, within: float
) -> AsyncIterator[Sequence[EventT]]:
    """Yield batches of up to `size` events (waiting at most `within` s); none is acked."""
    # noack_take buffers the events themselves (not their values) in this mode.
    batches = stream.noack_take(size, within=within)  # type: ignore[attr-defined]
    async for batch in batches:
        yield cast(Sequence[EventT], batch)


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
