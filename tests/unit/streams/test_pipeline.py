"""The shared batch steps: decode, retry while unreachable, isolate refusals, ack after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from contracts.records import DecodeError
from streams.agents import pipeline
from streams.agents.pipeline import (
    Backoff,
    Writer,
    dead_letter,
    decode_batch,
    run_batches,
    write_isolating,
    write_with_retry,
)


class UnreachableError(OSError):
    """The dependency can't be reached: worth a retry."""


class RefusedError(ValueError):
    """The dependency refuses the item itself: a retry won't help."""


class RefusedButTransientLookingError(UnreachableError):
    """Poison that also matches the transient errors: poison wins."""


@dataclass
class FakeMessage:
    key: bytes | None
    value: bytes | None
    offset: int


@dataclass
class FakeEvent:
    message: FakeMessage


class FakeTopic:
    def get_topic_name(self) -> str:
        return "todos.dlq"


def event(offset: int, value: bytes | None) -> FakeEvent:
    return FakeEvent(FakeMessage(key=b"42", value=value, offset=offset))


class Dependency:
    """Writes batches; fails transiently `outages` times first; refuses items named in `poison`."""

    def __init__(self, *, outages: int = 0, poison: set[str] | None = None) -> None:
        self.outages = outages
        self.poison = poison or set()
        self.attempts: list[list[str]] = []
        self.written: list[str] = []
        self.sleeps: list[float] = []

    async def write(self, items: Sequence[str]) -> None:
        self.attempts.append(list(items))
        if self.outages:
            self.outages -= 1
            raise UnreachableError("connection refused")
        bad = self.poison.intersection(items)
        if bad:
            raise RefusedError(f"bad value {sorted(bad)}")
        self.written.extend(items)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def writer(
        self,
        *,
        poison: tuple[type[BaseException], ...] = (RefusedError,),
        write: Any = None,
    ) -> Writer[str]:
        return Writer(
            name="Store",
            write=write or self.write,
            poison=poison,
            transient=(UnreachableError,),
            refusal="Store refused",
            backoff=Backoff(initial=0.1, maximum=1.0, sleep=self.sleep),
        )


async def test_an_unreachable_dependency_is_retried_with_bounded_exponential_backoff():
    store = Dependency(outages=6)
    await write_with_retry(store.writer(), ["a", "b"])
    assert store.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert store.attempts == [["a", "b"]] * 7
    assert store.written == ["a", "b"]


async def test_a_refusal_is_raised_at_once_without_a_retry():
    store = Dependency(poison={"b"})
    with pytest.raises(RefusedError):
        await write_with_retry(store.writer(), ["a", "b"])
    assert store.attempts == [["a", "b"]] and store.sleeps == []


async def test_poison_wins_over_transient_when_an_error_is_both():
    async def refuse(items: Sequence[str]) -> None:
        raise RefusedButTransientLookingError("both")

    store = Dependency()
    writer = store.writer(write=refuse, poison=(RefusedButTransientLookingError,))
    assert await write_isolating(writer, ["a"]) == [("a", "Store refused: both")]
    assert store.sleeps == []


async def test_an_unexpected_error_propagates_unretried():
    async def broken(items: Sequence[str]) -> None:
        raise RuntimeError("pool is not open")

    store = Dependency()
    writer = store.writer(write=broken)
    with pytest.raises(RuntimeError):
        await write_isolating(writer, ["a"])
    assert store.sleeps == []


async def test_a_refused_batch_is_written_one_by_one_and_only_the_refused_come_back():
    store = Dependency(poison={"b", "d"})
    refused = await write_isolating(store.writer(), ["a", "b", "c", "d", "e"])
    assert store.written == ["a", "c", "e"]  # the good ones, in their order
    assert [item for item, _ in refused] == ["b", "d"]
    assert all(reason.startswith("Store refused: bad value") for _, reason in refused)
    assert store.attempts[0] == ["a", "b", "c", "d", "e"]
    assert store.attempts[1:] == [["a"], ["b"], ["c"], ["d"], ["e"]]


async def test_an_outage_while_isolating_is_still_retried_not_dead_lettered():
    class FlakyAfterRefusal(Dependency):
        async def write(self, items: Sequence[str]) -> None:
            if len(self.attempts) == 1:  # the first single write meets an outage
                self.outages = 2
            await super().write(items)

    store = FlakyAfterRefusal(poison={"b"})
    refused = await write_isolating(store.writer(), ["a", "b"])
    assert [item for item, _ in refused] == ["b"]
    assert store.written == ["a"]
    assert store.sleeps == pytest.approx([0.1, 0.2])


async def test_an_empty_batch_writes_nothing():
    store = Dependency()
    assert await write_isolating(store.writer(), []) == []
    assert store.attempts == []


async def test_a_wait_for_the_dependency_is_cancelled_by_a_stop():
    store = Dependency(outages=1_000)
    waiting = asyncio.Event()

    async def sleep_forever(seconds: float) -> None:
        waiting.set()
        await asyncio.Event().wait()

    writer = Writer(
        name="Store",
        write=store.write,
        poison=(RefusedError,),
        transient=(UnreachableError,),
        refusal="Store refused",
        backoff=Backoff(sleep=sleep_forever),
    )
    task = asyncio.ensure_future(write_isolating(writer, ["a"]))
    await asyncio.wait_for(waiting.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.written == []


def decode(key: bytes | None, value: bytes | None) -> str | None:
    if value is None:
        return None
    if not value.isalpha():
        raise DecodeError(f"not a word: {value!r}")
    return value.decode()


async def test_decode_keeps_order_dead_letters_what_fails_and_drops_none(dead_letters):
    events = [event(0, b"one"), event(1, b"#!"), event(2, None), event(3, b"two")]
    decoded = await decode_batch(events, decode, FakeTopic())
    assert [(e.message.offset, value) for e, value in decoded] == [(0, "one"), (3, "two")]
    assert dead_letters == [("todos.dlq", b"#!", "not a word: b'#!'")]


async def test_dead_letter_sends_each_event_with_its_reason_in_order(dead_letters):
    await dead_letter(FakeTopic(), [(event(5, b"x"), "first"), (event(6, b"y"), "second")])
    assert dead_letters == [("todos.dlq", b"x", "first"), ("todos.dlq", b"y", "second")]


class FakeStream:
    """Holds the batches `unacked_batches` hands out and records acks."""

    def __init__(self, *batches: list[FakeEvent]) -> None:
        self.batches = batches
        self.acked: list[int] = []

    async def ack(self, done: FakeEvent) -> bool:
        self.acked.append(done.message.offset)
        return True


@pytest.fixture
def fake_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace `unacked_batches` by one yielding a FakeStream's batches, unacked."""

    # Batching itself is tested against a real faust stream in test_faust_internals.py.
    async def batches(
        stream: FakeStream, size: int, within: float
    ) -> AsyncIterator[list[FakeEvent]]:
        for batch in stream.batches:
            yield batch

    monkeypatch.setattr(pipeline, "unacked_batches", batches)


async def test_each_batch_is_acknowledged_only_after_it_was_handled(fake_batches):
    stream = FakeStream([event(0, b"a"), event(1, b"b")], [event(2, b"c")])
    seen: list[tuple[list[int], list[int]]] = []

    async def handle(events: Sequence[Any]) -> None:
        seen.append(([e.message.offset for e in events], list(stream.acked)))

    await run_batches(stream, 10, 0.1, handle)
    assert seen == [([0, 1], []), ([2], [0, 1])]
    assert stream.acked == [0, 1, 2]


async def test_a_batch_whose_handling_fails_is_not_acknowledged(fake_batches):
    stream = FakeStream([event(0, b"a")], [event(1, b"b")])

    async def handle(events: Sequence[Any]) -> None:
        if events[0].message.offset == 1:
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        await run_batches(stream, 10, 0.1, handle)
    assert stream.acked == [0]
