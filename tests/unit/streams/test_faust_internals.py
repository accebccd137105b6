"""The fence around faust-streaming's private internals that the worker's correctness rests on.

Each test pins one private name, its shape, and the behaviour we rely on. When one fails after a
faust upgrade, its message names the code to re-check; docs/decisions/consumer-commit-rule.md
says why each use is there.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import weakref
from collections import defaultdict
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import faust
import faust.streams
import pytest
from faust.tables.base import Collection
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka
from faust.types import TP, Message
from intervaltree import Interval, IntervalTree

from streams.agents.batches import ack_all, acting_for, unacked_batches
from streams.app import StreamsApp, app
from streams.tables import todos_table
from streams.transport import AtLeastOnceConsumer, Transport
from tests.support.polling import async_wait_for

PINNED = "0.15.3"
UPGRADE = f"faust-streaming changed since {PINNED}"
TP_ = TP("todos", 5)


def recheck(what: str, where: str) -> str:
    return f"{UPGRADE}: {what}. Re-check {where} (docs/decisions/consumer-commit-rule.md)."


def test_the_pinned_faust_version_is_the_one_installed() -> None:
    installed = version("faust-streaming")
    assert installed == PINNED, (
        f"faust-streaming {installed} is installed, the fence was written for {PINNED}: run this "
        "module, re-check every private use it names, then move PINNED"
    )


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.fixture
def consumer(monkeypatch: pytest.MonkeyPatch) -> AtLeastOnceConsumer:
    built = app.consumer
    assert isinstance(built, AtLeastOnceConsumer), recheck(
        "App._new_transport no longer builds the consumer", "streams.app.StreamsApp._new_transport"
    )
    for state in (built._acked, built._acked_index, built._gap, built._committed_offset):
        state.pop(TP_, None)
    built._read_offset.pop(TP_, None)
    # acks count only for topics an agent subscribed to; no agent runs here
    monkeypatch.setattr(app.topics, "acks_enabled_for", lambda topic: True)
    return built


def message(offset: int) -> Message:
    return Message(TP_.topic, TP_.partition, offset, 0.0, 0, None, b"42", b"{}", None, tp=TP_)


# --- the consumer's bookkeeping (streams/transport.py) ---------------------------------------


def test_the_consumer_bookkeeping_has_the_shape_transport_reads(
    consumer: AtLeastOnceConsumer,
) -> None:
    where = "streams.transport.AtLeastOnceConsumer (_new_offset, _drop_gaps, _in_flight)"
    shapes = {
        "_acked": (consumer._acked, list),
        "_acked_index": (consumer._acked_index, set),
        "_gap": (consumer._gap, IntervalTree),
    }
    for name, (state, default) in shapes.items():
        assert isinstance(state, defaultdict) and state.default_factory is default, recheck(
            f"Consumer.{name} is no longer a defaultdict({default.__name__}) per TP", where
        )
    assert isinstance(consumer._committed_offset, defaultdict), recheck(
        "Consumer._committed_offset is no longer a defaultdict per TP", where
    )
    assert consumer._committed_offset[TP("fence", 0)] is None, recheck(
        "Consumer._committed_offset no longer answers None for a TP never committed", where
    )
    assert isinstance(consumer._unacked_messages, weakref.WeakSet), recheck(
        "Consumer._unacked_messages is no longer a WeakSet of messages", where
    )


def test_ack_records_the_offset_where_new_offset_reads_it(consumer: AtLeastOnceConsumer) -> None:
    delivered = message(7)
    consumer.track_message(delivered)
    assert delivered in consumer._unacked_messages, recheck(
        "Consumer.track_message no longer adds to _unacked_messages",
        "streams.transport.AtLeastOnceConsumer._in_flight",
    )
    consumer._committed_offset[TP_] = 7
    assert consumer.ack(delivered) is True
    assert consumer._acked[TP_] == [7] and consumer._acked_index[TP_] == {7}, recheck(
        "Consumer.ack no longer appends the offset to _acked[tp] and _acked_index[tp]",
        "streams.transport.AtLeastOnceConsumer._new_offset",
    )
    assert delivered not in consumer._unacked_messages, recheck(
        "Consumer.ack no longer removes the message from _unacked_messages",
        "streams.transport.AtLeastOnceConsumer._in_flight",
    )


def test_new_offset_is_what_the_commit_asks_and_keeps_its_signature(
    consumer: AtLeastOnceConsumer,
) -> None:
    where = "streams.transport.AtLeastOnceConsumer._new_offset"
    base = faust_consumer.Consumer._new_offset
    assert parameters(base) == ["self", "tp"], recheck("Consumer._new_offset(tp) changed", where)
    assert "_new_offset" in inspect.getsource(
        faust_consumer.Consumer._filter_committable_offsets
    ), recheck("the commit no longer asks Consumer._new_offset what to commit", where)
    # 362 is not acked: our rule commits nothing; faust's would commit 370 over it.
    consumer._committed_offset[TP_] = 362
    for offset in range(363, 370):
        consumer._acked[TP_].append(offset)
        consumer._acked_index[TP_].add(offset)
    assert consumer._filter_committable_offsets([TP_]) == {}, recheck(
        "the commit no longer goes through our _new_offset override", where
    )


def test_faust_own_commit_rule_still_skips_an_unacked_head_message(
    consumer: AtLeastOnceConsumer,
) -> None:
    # faust-streaming #606: when this fails, faust may have fixed it; the override may go.
    consumer._committed_offset[TP_] = 362
    consumer._acked[TP_].extend(range(363, 370))
    consumer._acked_index[TP_].update(range(363, 370))
    assert aiokafka.Consumer._new_offset(consumer, TP_) == 370, recheck(
        "faust's own _new_offset no longer commits over one unacked message at the committed "
        "offset (issue #606 fixed?)",
        "whether streams.transport.AtLeastOnceConsumer._new_offset is still needed",
    )


async def test_a_fetch_gap_is_recorded_as_end_exclusive_intervals(
    consumer: AtLeastOnceConsumer,
) -> None:
    where = "streams.transport.AtLeastOnceConsumer._drop_gaps"
    assert parameters(faust_consumer.Consumer._add_gap) == [
        "self",
        "tp",
        "offset_from",
        "offset_to",
    ]
    consumer._committed_offset[TP_] = 3
    await consumer._add_gap(TP_, 5, 8)
    assert sorted(consumer._gap[TP_]) == [Interval(5, 9)], recheck(
        "Consumer._add_gap no longer records offsets 5..8 as Interval(5, 9) in _gap[tp]", where
    )


async def test_seek_moves_the_read_offset_so_the_messages_come_again(
    consumer: AtLeastOnceConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fetch loop drops a message below the read offset: a re-read needs seek to move it.
    where = "streams.transport.AtLeastOnceConsumer._reseek"
    assert inspect.iscoroutinefunction(AtLeastOnceConsumer.seek), recheck(
        "Consumer.seek is no longer a coroutine", where
    )
    seeks: list[tuple[TP, int]] = []

    async def record(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))

    monkeypatch.setattr(consumer, "_seek", record)
    consumer._read_offset[TP_] = 40
    await consumer.seek(TP_, 12)
    assert seeks == [(TP_, 12)] and consumer._read_offset[TP_] == 12, recheck(
        "Consumer.seek no longer sets _read_offset[tp] to the offset sought", where
    )
    drain = inspect.getsource(faust_consumer.Consumer._drain_messages)
    assert "offset >= r_offset" in drain, recheck(
        "the fetch loop's rule for dropping messages below the read offset changed",
        "streams.transport.AtLeastOnceConsumer._drop_gaps and _reseek",
    )


def test_the_periodic_check_calls_verify_event_path_per_partition() -> None:
    where = "streams.transport.AtLeastOnceConsumer.verify_event_path"
    assert parameters(aiokafka.Consumer.verify_event_path) == ["self", "now", "tp"], recheck(
        "Consumer.verify_event_path(now, tp) changed", where
    )
    source = inspect.getsource(faust_consumer.Consumer.verify_all_partitions_active)
    assert "self.verify_event_path(now, tp)" in source, recheck(
        "the livelock check no longer calls verify_event_path for every assigned partition",
        where,
    )


def test_the_transport_hands_out_the_at_least_once_consumer() -> None:
    assert isinstance(app.transport, Transport)
    assert app.transport.Consumer is AtLeastOnceConsumer, recheck(
        "Transport.Consumer is no longer the class the transport builds consumers from",
        "streams.transport.Transport",
    )


# --- the stream's batches (streams/agents/batches.py) ----------------------------------------

fence = faust.App("faust-internals-fence", store="memory://", autodiscover=False)
# The agents signal that a batch reached them; a new Event per test (each has its own loop).
started: dict[str, asyncio.Event] = {}


@fence.agent(name="takes")
async def takes(stream: faust.StreamT[Any]) -> None:
    async for _ in stream.take(10, within=0.05):
        started["batch"].set()
        await asyncio.Event().wait()  # the worker stops while the batch is in flight


@fence.agent(name="unacked")
async def unacked(stream: faust.StreamT[Any]) -> None:
    async for _ in unacked_batches(stream, 10, within=0.05):
        started["batch"].set()
        await asyncio.Event().wait()


BATCH_SIZE = 10
# What the batching agent below was handed, batch by batch (offsets); reset by each test.
handed: list[list[int]] = []


@fence.agent(name="batches")
async def batches(stream: faust.StreamT[Any]) -> None:
    async for events in unacked_batches(stream, BATCH_SIZE, within=30):
        handed.append([event.message.offset for event in events])
        await ack_all(stream, events)


async def acked_after_a_stop_mid_batch(agent: Any) -> tuple[bool, bool]:
    started["batch"] = asyncio.Event()
    async with agent.test_context() as running:
        event = await running.put(b"{}", key=b"42")
        await asyncio.wait_for(started["batch"].wait(), timeout=5)
        in_flight = event.message.acked
    return in_flight, event.message.acked


def test_the_stream_has_the_private_names_unacked_batches_uses() -> None:
    where = "streams.agents.batches.unacked_batches"
    assert parameters(faust.Stream._enable_passive) == ["self", "channel", "declare"], recheck(
        "Stream._enable_passive(channel) changed", where
    )
    assert "add_to_buffer" in inspect.getsource(faust.Stream.noack_take), recheck(
        "Stream.noack_take no longer buffers through a processor, the pattern we copy", where
    )
    stream = fence.stream(fence.channel())
    assert isinstance(stream, faust.Stream)
    assert isinstance(stream._processors, list), recheck(
        "Stream._processors is no longer the list add_processor appends to", where
    )
    for name in ("wait", "wait_for_stopped"):
        assert inspect.iscoroutinefunction(getattr(stream, name)), recheck(
            f"Stream.{name} is no longer a coroutine (mode.Service)", where
        )
    drain = inspect.getsource(faust.Stream._py_aiter)
    assert "do_ack = self.enable_acks" in drain, recheck(
        "the stream no longer reads enable_acks per event to decide whether to ack it", where
    )


async def test_unacked_batches_never_acks_a_batch_cut_short() -> None:
    assert await acked_after_a_stop_mid_batch(unacked) == (False, False), recheck(
        "a batch from unacked_batches is acked when a stop closes it mid-batch",
        "streams.agents.batches.unacked_batches",
    )


async def test_take_still_acks_a_batch_cut_short_in_its_finally() -> None:
    # Why the agents batch with unacked_batches: take() acks on close, a lost batch.
    assert await acked_after_a_stop_mid_batch(takes) == (False, True), recheck(
        "Stream.take no longer acks a batch cut short by a stop: the public take_events may do",
        "whether streams.agents.batches still needs its own batching",
    )


async def test_events_back_to_back_come_in_order_in_batches_of_at_most_size() -> None:
    handed.clear()
    count = 3 * BATCH_SIZE + 5
    async with batches.test_context() as running:
        # Not waiting for each to be processed: the stream holds them all, as under lag.
        for _ in range(count):
            await running.put(b"{}", key=b"42", wait=False)

        async def all_handed() -> bool:
            return sum(map(len, handed)) >= count

        await async_wait_for(all_handed, timeout=5, interval=0.01, message="every event")
    assert [offset for batch in handed for offset in batch] == list(range(count))
    assert all(0 < len(batch) <= BATCH_SIZE for batch in handed), handed


async def test_a_lone_event_is_handed_over_without_waiting_for_the_window() -> None:
    handed.clear()
    async with batches.test_context() as running:
        event = await running.put(b"{}", key=b"42")

        async def handed_and_acked() -> bool:
            return handed == [[event.message.offset]] and event.message.acked

        # Far inside the 30 s window: the batch is cut once the stream is idle.
        await async_wait_for(handed_and_acked, timeout=3, interval=0.01, message="the batch")


@dataclass
class FakeMessage:
    topic: str
    partition: int


@dataclass
class FakeEvent:
    message: FakeMessage


def test_current_event_is_the_context_variable_a_table_write_reads() -> None:
    where = "streams.agents.batches.acting_for"
    assert isinstance(faust.streams._current_event, contextvars.ContextVar), recheck(
        "faust.streams._current_event is no longer a ContextVar", where
    )
    event = FakeEvent(FakeMessage(topic="postgres.public.todos", partition=3))
    with acting_for(event):  # type: ignore[arg-type]
        assert faust.current_event() is event, recheck(
            "faust.current_event() no longer reads faust.streams._current_event", where
        )
        assert todos_table.partition_for_key(42) == 3, recheck(
            "a table write no longer takes its partition from faust.current_event()", where
        )
    assert faust.current_event() is None


# --- the app and the table (streams/app.py, streams/tables.py) -------------------------------


def test_init_fixups_is_the_hook_that_keeps_django_out(monkeypatch: pytest.MonkeyPatch) -> None:
    where = "streams.app.StreamsApp._init_fixups"
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "cud_api.config.settings")
    plain = faust.App("fence-plain", autodiscover=False)
    assert plain.fixups, recheck("faust.App no longer applies its Django fixup by itself", where)
    ours = StreamsApp("fence-ours", autodiscover=False)
    assert ours.fixups == [], recheck(
        "faust.App no longer takes its fixups from _init_fixups", where
    )


def test_serializer_from_type_still_sets_the_table_key_serializer() -> None:
    where = "streams.tables.TodoTable._serializer_from_type"
    assert parameters(Collection._serializer_from_type) == ["self", "typ"], recheck(
        "Collection._serializer_from_type(typ) changed", where
    )
    assert todos_table.key_serializer == "todo_id", recheck(
        "the table no longer derives its key serializer from _serializer_from_type", where
    )
