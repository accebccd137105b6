"""Faust's aiokafka transport with a consumer that never commits past an unacked message.

faust-streaming 0.15.3 decides what to commit in `Consumer._new_offset`: the first run of
consecutive acked offsets. Its guard against a hole at the head of that run only fires
when the hole is wider than one offset (`min(acked) - committed > 1`), so the one message
sitting at the committed offset can be committed over without ever being processed: a
message handed over just as a rebalance suspends the flow, then acked messages after it.
That lost a command under SIGKILL here, and is faust-streaming issue #606 (fix open as
pull request #707). Our source topics (`todos`, `postgres.public.todos`) are neither
compacted nor transactional, so their offsets have no real holes: the message at the
committed offset must be acked before anything after it is committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from faust.transport.drivers import aiokafka
from faust.types import TP
from faust.types.transports import ConsumerT


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


class AtLeastOnceConsumer(aiokafka.Consumer):
    """Commits an offset only when every message before it, from the committed one, is acked."""

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        if not acked:
            return None
        self._merge_gaps(tp, acked)
        committed = self._committed_offset[tp]
        new_offset = next_commit_offset(acked, committed)
        if new_offset is None and committed is not None and committed + 1 in acked:
            # Exactly the case faust would have committed over: worth seeing in the log.
            self.log.info("Holding %r at %r: that message is not acked yet", tp, committed)
        if new_offset is not None:
            done = {offset for offset in acked if offset < new_offset}
            acked[:] = sorted(offset for offset in acked if offset >= new_offset)
            self._acked_index[tp].difference_update(done)
        return new_offset

    def _merge_gaps(self, tp: TP, acked: list[int]) -> None:
        """Count the offsets faust recorded as holes in the fetched log (compaction) as acked."""
        gaps = self._gap[tp]
        if not gaps:
            return
        highest = max(acked)
        holes = sorted(gaps.overlap(0, highest), key=lambda interval: interval.begin)
        if not holes:
            return
        filled = [offset for hole in holes for offset in range(hole.begin, hole.end)]
        acked.extend(filled)
        gaps.chop(0, max(filled[-1], highest + 1))


class Transport(aiokafka.Transport):
    """The `kafka://` transport, with the at-least-once consumer."""

    Consumer: ClassVar[type[ConsumerT]] = AtLeastOnceConsumer
