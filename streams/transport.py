"""Faust's aiokafka transport with a consumer that never commits past an unacked message.

faust-streaming 0.15.3 can commit over the one unacked message at the committed offset (its
issue #606) and drops messages on the way to the agent around a rebalance or recovery. This
consumer commits an offset only once every message from the committed one up to it is acked,
and reads skipped offsets, or a partition held too long, again; while Kafka is down nothing is
held or read again. The rule, its evidence and the private faust API it rests on:
docs/decisions/consumer-commit-rule.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer
from faust.transport.drivers import aiokafka
from faust.types import TP
from faust.types.transports import ConsumerT

from streams.monitoring import dependencies

#: How long a commit may wait on one message before its partition is read again from there:
#: far above a batch's processing time, so only a message nothing will ever ack gets there.
RESEEK_AFTER_SECONDS = 30.0
#: How long lag may wait with no message of its partition in an agent or acked before the
#: partition is read again: nothing is working on it, so only a message dropped on the way
#: (or a fetch that never resumed after a Kafka outage) gets there; a re-read of messages
#: merely still queued costs a duplicate, which the agents' idempotent effects absorb.
IDLE_RESEEK_AFTER_SECONDS = 10.0
#: The longest the broker may hold a fetch that finds no new record (faust hard-codes 1,500).
#: aiokafka keeps one fetch in flight per broker and leaves a partition whose records are
#: still buffered out of it, so a fetch that carried only the quiet partitions made every
#: busy one wait this long once its buffer was drained (docs/decisions/fetch-wait.md).
FETCH_MAX_WAIT_MS = 50
#: The dependency watch's name for the broker.
KAFKA = "kafka"


def kafka_is_down() -> bool:
    """Whether the worker's dependency watch sees Kafka down."""
    return dependencies.watch.is_down(KAFKA)


def next_commit_offset(acked: Iterable[int], committed: int | None) -> int | None:
    """The offset to commit once `acked` are processed, or None while the committed one is not."""
    pending = sorted({offset for offset in acked if committed is None or offset >= committed})
    if not pending or (committed is not None and pending[0] != committed):
        # The message at `committed` is still in flight, or was dropped by a rebalance
        # (the seek after the rebalance reads it again): nothing is committable yet.
        return None
    end = pending[0]
    for offset in pending:
        if offset != end:
            break
        end += 1
    return end


class PromptFetchConsumerThread(aiokafka.AIOKafkaConsumerThread):
    """faust's consumer thread, whose fetches wait at most FETCH_MAX_WAIT_MS at the broker."""

    def _create_worker_consumer(self, transport: aiokafka.Transport) -> AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads the setting when `start()` builds its fetcher, which comes later.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class AtLeastOnceConsumer(aiokafka.Consumer):
    """Commits an offset only when every message before it, from the committed one, is acked."""

    clock: Callable[[], float] = staticmethod(time.monotonic)
    kafka_down: Callable[[], bool] = staticmethod(kafka_is_down)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: dict[TP, tuple[int, float]] = {}
        self._reseeks: set[asyncio.Future[None]] = set()

    def _new_consumer_thread(self) -> PromptFetchConsumerThread:
        return PromptFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        if not acked:
            return None
        self._drop_gaps(tp)
        committed = self._committed_offset[tp]
        new_offset = next_commit_offset(acked, committed)
        if new_offset is None and committed is not None and max(acked) > committed:
            self._hold(tp, committed)
        else:
            self._held.pop(tp, None)
        if new_offset is not None:
            done = {offset for offset in acked if offset < new_offset}
            acked[:] = sorted(offset for offset in acked if offset >= new_offset)
            self._acked_index[tp].difference_update(done)
        return new_offset

    def verify_event_path(self, now: float, tp: TP) -> None:
        """faust's periodic check of a partition, plus: lag that nothing works on is read again."""
        super().verify_event_path(now, tp)
        if self._acked[tp]:
            return  # `_new_offset` holds or commits this partition
        committed = self._committed_offset[tp]
        try:
            highwater = self.highwater(tp)
        except AssertionError:  # aiokafka's "not assigned": revoked since faust listed it
            return
        if committed is None or highwater is None or highwater <= committed or self._in_flight(tp):
            self._held.pop(tp, None)
            return
        # Messages wait at the committed offset, yet none is in an agent or acked: they were
        # dropped on the way (at the tail of a partition no later ack reveals that), or are
        # still queued for the agent, which is common and brief: only a re-read is logged.
        self._hold(tp, committed, announce=False, after=IDLE_RESEEK_AFTER_SECONDS)

    def _in_flight(self, tp: TP) -> bool:
        """Whether an agent holds a message of `tp` it has not acked yet."""
        return any(message.tp == tp for message in list(self._unacked_messages))

    def _hold(
        self,
        tp: TP,
        committed: int,
        *,
        announce: bool = True,
        after: float = RESEEK_AFTER_SECONDS,
    ) -> None:
        """Note that `tp` waits on the message at `committed`; re-read it after `after` s."""
        if self.kafka_down():
            # Nothing can ack or be fetched without the broker, and a seek cannot reach it:
            # the hold starts over once Kafka is back, so only a wait with Kafka up counts.
            self._held.pop(tp, None)
            return
        now = self.clock()
        held_offset, since = self._held.setdefault(tp, (committed, now))
        if held_offset != committed:
            self._held[tp] = (committed, now)
        elif since == now and announce:
            # Exactly the case faust would have committed over: worth seeing in the log.
            self.log.info("Holding %r at %r: that message is not acked yet", tp, committed)
        elif now - since >= after:
            self.log.warning(
                "Reading %r again from %r: nothing acked that message in %.0fs",
                tp,
                committed,
                now - since,
            )
            del self._held[tp]
            self._read_again(tp, committed)

    def _read_again(self, tp: TP, offset: int) -> None:
        """Schedule a seek of `tp` back to `offset`, so its messages reach the agent again."""
        reseek = asyncio.ensure_future(self._reseek(tp, offset))
        self._reseeks.add(reseek)
        reseek.add_done_callback(self._reseeks.discard)

    async def _reseek(self, tp: TP, offset: int) -> None:
        """Seek `tp` back to `offset`; a partition revoked meanwhile needs no seek."""
        try:
            await self.seek(tp, offset)
        except Exception as exc:  # e.g. no longer assigned: the new owner reads from there
            self.log.warning("Could not read %r again from %r: %r", tp, offset, exc)

    def _drop_gaps(self, tp: TP) -> None:
        """Forget the holes faust recorded in `tp`'s fetched offsets, without counting them done.

        faust records a hole when a fetched offset jumps past the last one read, and counts it
        as acked (right for a compacted topic). Our source topics have no holes, so a jump
        means messages were skipped on the way to the agent: they hold the commit and are read
        again from the first one not committed.
        """
        gaps = self._gap.pop(tp, None)
        if not gaps:
            return
        holes = ", ".join(f"{hole.begin}-{hole.end - 1}" for hole in sorted(gaps))
        committed = self._committed_offset[tp]
        if committed is not None and max(hole.end for hole in gaps) <= committed:
            self.log.info("Offsets skipped in %r, all committed since: %s", tp, holes)
            return
        first_skipped = min(hole.begin for hole in gaps)
        if committed is not None:
            first_skipped = max(first_skipped, committed)
        self.log.warning(
            "Offsets skipped on the way to the agent in %r: %s; reading again from %r",
            tp,
            holes,
            first_skipped,
        )
        # faust drops a message whose offset is below the last one read, so without the seek
        # the skipped messages would only come back after the hold's RESEEK_AFTER_SECONDS.
        self._read_again(tp, first_skipped)


class Transport(aiokafka.Transport):
    """The `kafka://` transport, with the at-least-once consumer."""

    Consumer: ClassVar[type[ConsumerT]] = AtLeastOnceConsumer
