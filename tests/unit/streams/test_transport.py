"""The at-least-once consumer: no offset is committed past a message that was not acked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from faust.transport.drivers import aiokafka
from faust.types import TP

from streams.app import app
from streams.app import settings as app_settings
from streams.monitoring import dependencies
from streams.monitoring.dependencies import DependencyWatch
from streams.transport import (
    FETCH_MAX_WAIT_MS,
    IDLE_RESEEK_AFTER_SECONDS,
    KAFKA,
    RESEEK_AFTER_SECONDS,
    AtLeastOnceConsumer,
    PromptFetchConsumerThread,
    kafka_is_down,
    next_commit_offset,
)
from tests.support.clock import Clock

TODOS_3 = TP("todos", 3)


@pytest.mark.parametrize(
    ("acked", "committed", "expected"),
    [
        # faust-streaming 0.15.3 commits 370 here: the lost command of the SIGKILL test.
        ([363, 364, 365, 366, 367, 368, 369], 362, None),
        ([364, 365], 362, None),
        ([362, 363, 364], 362, 365),
        ([364, 362, 363, 367], 362, 365),
        ([5, 5, 6], 5, 7),
        ([1, 2, 7, 8], 7, 9),
        ([0, 1, 2], None, 3),
        ([], 4, None),
    ],
)
def test_next_commit_offset_needs_the_committed_message_acked(
    acked: list[int], committed: int | None, expected: int | None
) -> None:
    assert next_commit_offset(acked, committed) == expected


@pytest.fixture
def consumer() -> AtLeastOnceConsumer:
    built = app.consumer
    assert isinstance(built, AtLeastOnceConsumer)
    for state in (built._acked, built._acked_index, built._gap, built._committed_offset):
        state.pop(TODOS_3, None)
    return built


def acknowledge(consumer: AtLeastOnceConsumer, *offsets: int) -> None:
    """Record acks the way `Consumer.ack` does."""
    consumer._acked[TODOS_3].extend(offsets)
    consumer._acked_index[TODOS_3].update(offsets)


def test_consumer_waits_for_the_head_message_then_commits_the_whole_run(
    consumer: AtLeastOnceConsumer,
) -> None:
    consumer._committed_offset[TODOS_3] = 362
    acknowledge(consumer, *range(363, 370))
    assert consumer._new_offset(TODOS_3) is None
    assert sorted(consumer._acked[TODOS_3]) == list(range(363, 370))

    acknowledge(consumer, 362)
    assert consumer._new_offset(TODOS_3) == 370
    assert consumer._acked[TODOS_3] == []
    assert consumer._acked_index[TODOS_3] == set()


def test_consumer_keeps_acks_after_a_hole_for_the_next_commit(
    consumer: AtLeastOnceConsumer,
) -> None:
    consumer._committed_offset[TODOS_3] = 10
    acknowledge(consumer, 10, 11, 13, 14)
    assert consumer._new_offset(TODOS_3) == 12
    assert consumer._acked[TODOS_3] == [13, 14]
    assert consumer._acked_index[TODOS_3] == {13, 14}


class Kafka:
    """Whether Kafka is down, as the consumer asks it: set by hand, up to begin with."""

    def __init__(self) -> None:
        self.down = False

    def __call__(self) -> bool:
        return self.down


@pytest.fixture
def kafka(consumer: AtLeastOnceConsumer, monkeypatch: pytest.MonkeyPatch) -> Kafka:
    """The consumer's view of Kafka, so no test depends on the worker's dependency watch."""
    fake = Kafka()
    monkeypatch.setattr(consumer, "kafka_down", fake)
    return fake


@pytest.fixture
def clock(consumer: AtLeastOnceConsumer, kafka: Kafka, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The consumer's clock, moved by hand."""
    fake = Clock()
    monkeypatch.setattr(consumer, "clock", fake)
    consumer._held.clear()
    return fake


@pytest.fixture
def seeks(consumer: AtLeastOnceConsumer, monkeypatch: pytest.MonkeyPatch) -> list[tuple[TP, int]]:
    """The seeks the consumer asks for, recorded instead of sent to Kafka."""
    recorded: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        recorded.append((tp, offset))

    monkeypatch.setattr(consumer, "seek", seek)
    return recorded


async def test_skipped_offsets_hold_the_commit_and_are_read_again_at_once(
    consumer: AtLeastOnceConsumer, clock: Clock, seeks: list[tuple[TP, int]]
) -> None:
    # faust records offsets 11 and 12 as a hole when the fetch jumps from 10 to 13; on our
    # topics that means they were skipped, so they hold the commit (faust would commit 14)
    # and are read again without waiting for the hold to last.
    consumer._committed_offset[TODOS_3] = 10
    consumer._gap[TODOS_3].addi(11, 13)
    acknowledge(consumer, 10, 13)
    assert consumer._new_offset(TODOS_3) == 11
    assert TODOS_3 not in consumer._gap
    await asyncio.gather(*consumer._reseeks)
    assert seeks == [(TODOS_3, 11)]

    consumer._committed_offset[TODOS_3] = 11
    assert consumer._new_offset(TODOS_3) is None
    acknowledge(consumer, 11, 12)
    assert consumer._new_offset(TODOS_3) == 14


async def test_a_hole_below_the_committed_offset_is_not_read_again(
    consumer: AtLeastOnceConsumer, clock: Clock, seeks: list[tuple[TP, int]]
) -> None:
    consumer._committed_offset[TODOS_3] = 20
    consumer._gap[TODOS_3].addi(11, 20)
    acknowledge(consumer, 20)
    assert consumer._new_offset(TODOS_3) == 21
    assert not consumer._reseeks and seeks == []


async def test_a_hole_straddling_the_committed_offset_is_read_again_from_it(
    consumer: AtLeastOnceConsumer, clock: Clock, seeks: list[tuple[TP, int]]
) -> None:
    # The restart in the SIGKILL test: committed 113, a hole recorded as 97-116.
    consumer._committed_offset[TODOS_3] = 113
    consumer._gap[TODOS_3].addi(97, 117)
    acknowledge(consumer, 117, 118)
    assert consumer._new_offset(TODOS_3) is None
    await asyncio.gather(*consumer._reseeks)
    assert seeks == [(TODOS_3, 113)]


async def test_a_partition_held_too_long_is_read_again_from_the_committed_offset(
    consumer: AtLeastOnceConsumer, clock: Clock, seeks: list[tuple[TP, int]]
) -> None:
    consumer._committed_offset[TODOS_3] = 362
    acknowledge(consumer, 363, 364)

    assert consumer._new_offset(TODOS_3) is None
    clock.now += RESEEK_AFTER_SECONDS - 1
    assert consumer._new_offset(TODOS_3) is None
    assert not consumer._reseeks and seeks == []

    clock.now += 1
    assert consumer._new_offset(TODOS_3) is None
    await asyncio.gather(*consumer._reseeks)  # the seek it scheduled, run to its end
    assert seeks == [(TODOS_3, 362)]

    # Read again, the message is processed and the whole run commits.
    acknowledge(consumer, 362)
    assert consumer._new_offset(TODOS_3) == 365
    assert TODOS_3 not in consumer._held


async def test_a_hold_restarts_when_the_committed_offset_moves(
    consumer: AtLeastOnceConsumer, clock: Clock, seeks: list[tuple[TP, int]]
) -> None:
    consumer._committed_offset[TODOS_3] = 10
    acknowledge(consumer, 11)
    assert consumer._new_offset(TODOS_3) is None

    clock.now += RESEEK_AFTER_SECONDS - 1
    consumer._committed_offset[TODOS_3] = 20  # a rebalance's seek read a newer committed offset
    acknowledge(consumer, 21)
    assert consumer._new_offset(TODOS_3) is None  # now held at 20, from this moment
    clock.now += 2
    assert consumer._new_offset(TODOS_3) is None
    assert not consumer._reseeks and seeks == []
    assert consumer._held[TODOS_3] == (20, clock.now - 2)


async def test_a_failed_reseek_is_logged_not_raised(
    consumer: AtLeastOnceConsumer, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def seek(tp: TP, offset: int) -> None:
        raise RuntimeError("partition not assigned")

    monkeypatch.setattr(consumer, "seek", seek)
    consumer._committed_offset[TODOS_3] = 5
    acknowledge(consumer, 6)
    assert consumer._new_offset(TODOS_3) is None
    clock.now += RESEEK_AFTER_SECONDS
    assert consumer._new_offset(TODOS_3) is None
    results = await asyncio.gather(*consumer._reseeks, return_exceptions=True)
    assert results == [None]


async def test_while_kafka_is_down_a_held_commit_is_not_read_again(
    consumer: AtLeastOnceConsumer,
    clock: Clock,
    kafka: Kafka,
    seeks: list[tuple[TP, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer._committed_offset[TODOS_3] = 362
    acknowledge(consumer, 363, 364)
    assert consumer._new_offset(TODOS_3) is None
    clock.now += RESEEK_AFTER_SECONDS - 1

    kafka.down = True
    for _ in range(3):
        assert consumer._new_offset(TODOS_3) is None
        clock.now += RESEEK_AFTER_SECONDS
    assert not consumer._reseeks and seeks == [] and TODOS_3 not in consumer._held
    assert "Reading" not in caplog.text

    # Back: the hold starts over, and only a full delay with Kafka up reads it again.
    kafka.down = False
    assert consumer._new_offset(TODOS_3) is None
    clock.now += RESEEK_AFTER_SECONDS - 1
    assert consumer._new_offset(TODOS_3) is None
    assert not consumer._reseeks and seeks == []
    clock.now += 1
    assert consumer._new_offset(TODOS_3) is None
    await asyncio.gather(*consumer._reseeks)
    assert seeks == [(TODOS_3, 362)]


def test_the_consumer_asks_the_dependency_watch_whether_kafka_is_down(
    consumer: AtLeastOnceConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = DependencyWatch(dependencies.DEPENDENCIES)
    monkeypatch.setattr(dependencies, "watch", watch)
    assert AtLeastOnceConsumer.kafka_down is kafka_is_down
    assert not kafka_is_down()
    for _ in range(dependencies.DOWN_AFTER):
        watch.failed(KAFKA, "ConnectionRefusedError: refused")
    assert kafka_is_down()
    watch.answered(KAFKA, 0.01)
    assert not kafka_is_down()


class InFlight:
    """A message an agent holds, as far as `_unacked_messages` tells."""

    def __init__(self, tp: TP) -> None:
        self.tp = tp


@pytest.fixture
def lag_check(
    consumer: AtLeastOnceConsumer, monkeypatch: pytest.MonkeyPatch
) -> Callable[[int | None], None]:
    """Run the consumer's periodic check of TODOS_3 with the given highwater."""
    monkeypatch.setattr(aiokafka.Consumer, "verify_event_path", lambda self, now, tp: None)
    consumer._unacked_messages.clear()

    def check(highwater: int | None) -> None:
        monkeypatch.setattr(consumer, "highwater", lambda tp: highwater)
        consumer.verify_event_path(0.0, TODOS_3)

    return check


async def test_lag_nothing_works_on_is_read_again_from_the_committed_offset(
    consumer: AtLeastOnceConsumer,
    clock: Clock,
    seeks: list[tuple[TP, int]],
    lag_check: Callable[[int | None], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The tail of a partition dropped on the way: no later ack reveals it to `_new_offset`.
    caplog.set_level("INFO")
    consumer._committed_offset[TODOS_3] = 40
    lag_check(44)
    clock.now += IDLE_RESEEK_AFTER_SECONDS - 1
    lag_check(44)
    assert not consumer._reseeks and seeks == []
    # Lag with nothing in an agent is mostly messages still queued for it: not worth a line.
    assert "Holding" not in caplog.text
    clock.now += 1
    lag_check(44)
    await asyncio.gather(*consumer._reseeks)
    assert seeks == [(TODOS_3, 40)]
    assert "Reading" in caplog.text


async def test_while_kafka_is_down_lag_is_not_held_nor_read_again(
    consumer: AtLeastOnceConsumer,
    clock: Clock,
    kafka: Kafka,
    seeks: list[tuple[TP, int]],
    lag_check: Callable[[int | None], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The outage that fired the rule every check for every partition: the broker is gone,
    # not the messages, and a seek cannot reach it.
    caplog.set_level("INFO")
    consumer._committed_offset[TODOS_3] = 40
    lag_check(44)
    clock.now += IDLE_RESEEK_AFTER_SECONDS - 1

    kafka.down = True
    for _ in range(3):
        lag_check(44)
        clock.now += RESEEK_AFTER_SECONDS
    assert not consumer._reseeks and seeks == [] and TODOS_3 not in consumer._held
    assert "Reading" not in caplog.text

    # Back: the hold starts over, and only a full delay with Kafka up reads it again.
    kafka.down = False
    lag_check(44)
    clock.now += IDLE_RESEEK_AFTER_SECONDS - 1
    lag_check(44)
    assert not consumer._reseeks and seeks == []
    clock.now += 1
    lag_check(44)
    await asyncio.gather(*consumer._reseeks)
    assert seeks == [(TODOS_3, 40)]
    assert "Reading" in caplog.text


@pytest.mark.parametrize(
    ("highwater", "in_an_agent", "acked"),
    [
        pytest.param(None, False, (), id="highwater-unknown"),
        pytest.param(40, False, (), id="caught-up"),
        # A slow batch (e.g. MongoDB down and retried) is in an agent: reading it again
        # would only queue it twice.
        pytest.param(44, True, (), id="lag-in-an-agent"),
        pytest.param(44, False, (40, 41), id="lag-with-acks-left-to-the-commit"),
    ],
)
async def test_lag_something_works_on_or_no_lag_is_left_alone(
    consumer: AtLeastOnceConsumer,
    clock: Clock,
    seeks: list[tuple[TP, int]],
    lag_check: Callable[[int | None], None],
    highwater: int | None,
    in_an_agent: bool,
    acked: tuple[int, ...],
) -> None:
    consumer._committed_offset[TODOS_3] = 40
    in_flight = InFlight(TODOS_3)  # referenced here: `_unacked_messages` holds it weakly
    if in_an_agent:
        consumer._unacked_messages.add(in_flight)  # type: ignore[arg-type]
    acknowledge(consumer, *acked)
    for _ in range(3):
        lag_check(highwater)
        clock.now += RESEEK_AFTER_SECONDS
    assert not consumer._reseeks and seeks == [] and TODOS_3 not in consumer._held


async def test_a_partition_revoked_meanwhile_is_skipped(
    consumer: AtLeastOnceConsumer,
    clock: Clock,
    seeks: list[tuple[TP, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def highwater(tp: TP) -> int:
        raise AssertionError("Partition is not assigned")

    monkeypatch.setattr(aiokafka.Consumer, "verify_event_path", lambda self, now, tp: None)
    monkeypatch.setattr(consumer, "highwater", highwater)
    consumer._committed_offset[TODOS_3] = 40
    consumer.verify_event_path(0.0, TODOS_3)
    assert not consumer._reseeks and TODOS_3 not in consumer._held


def test_the_worker_consumers_fetches_wait_at_most_fetch_max_wait_ms_at_the_broker() -> None:
    consumer = app.consumer
    assert isinstance(consumer, AtLeastOnceConsumer)
    thread = consumer._thread
    assert isinstance(thread, PromptFetchConsumerThread)
    transport = app.transport
    assert isinstance(transport, aiokafka.Transport)

    async def build() -> int:
        # aiokafka's consumer is made inside a running loop, as in the consumer thread.
        built = thread._create_worker_consumer(transport)
        return int(built._fetch_max_wait_ms)

    # faust passes 1,500 ms; aiokafka reads this when its fetcher is built at start().
    assert asyncio.run(build()) == FETCH_MAX_WAIT_MS == 50


def test_faust_holds_the_input_only_past_two_cdc_batches_of_table_writes() -> None:
    # faust's default of 100 held both agents' input after every CDC batch of more todos.
    assert app.producer.buffer.max_messages == 2 * app_settings.change_batch_size == 1000
