"""The last messages of one topic partition, read without a consumer group, decoded for a page.

One group-less consumer reads every range: it is assigned the partition, seeks to the first
offset and fetches until its position passes the last; it never commits, joins no group and
so moves no group's offsets. A lock makes one read at a time use it; at most
MAX_WAITING_READS wait for it, and each read has READ_SECONDS in all, lock wait included.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from streams.monitoring.cluster import ClusterUnavailableError

log = logging.getLogger(__name__)

MESSAGES_DEFAULT = 20
MESSAGES_MAX = 100
# A key, header or value longer than this is shown cut to it, and said to be cut.
SHOWN_BYTES = 64 * 1024
# A read waits at most this long in all (lock and Kafka): a page answers 503 rather than hang.
READ_SECONDS = 5.0
MAX_WAITING_READS = 8

# C0 controls other than tab, newline and carriage return, and DEL: such bytes are no text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TIMESTAMP_TYPES = {0: "create", 1: "log-append"}


@dataclass(frozen=True)
class PageWindow:
    """The offsets one page covers: from `start` up to, not including, `stop`."""

    start: int
    stop: int
    at_start: bool  # no offset before `start` is left in the partition

    @property
    def next_before(self) -> int | None:
        """Return the `before` of the next older page, or None at the partition's start."""
        return None if self.at_start else self.start


def page_window(log_start: int, log_end: int, before: int | None, limit: int) -> PageWindow:
    """Return the `limit` offsets before `before` (the end when None), within the log."""
    stop = log_end if before is None else min(before, log_end)
    stop = max(stop, log_start)  # offsets deleted since: an empty page at the start
    start = max(log_start, stop - limit)
    return PageWindow(start, stop, at_start=start <= log_start)


@dataclass(frozen=True)
class Decoded:
    """Bytes as a page shows them: JSON (pretty), UTF-8 text, hex, or null."""

    kind: str  # "json", "text", "hex" or "null"
    content: str | None
    size: int  # the bytes' full length (0 for null)
    cut: bool = False  # content shows only the first SHOWN_BYTES

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape of this decoding (`shown`: how many of the bytes it shows)."""
        return {
            "kind": self.kind,
            "content": self.content,
            "size": self.size,
            "shown": min(self.size, SHOWN_BYTES),
            "cut": self.cut,
        }


def as_text(data: bytes, *, cut: bool) -> str | None:
    """Return `data` as UTF-8 text without control bytes, or None when it is not text."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A cut may split the last character: text up to it still counts as text.
        if not (cut and exc.reason == "unexpected end of data"):
            return None
        text = data[: exc.start].decode("utf-8", errors="strict")
    return None if _CONTROL.search(text) else text


def decode_bytes(data: bytes | None, *, as_json: bool = False) -> Decoded:
    """Decode bytes for display: JSON when asked and it parses whole, else text, else hex."""
    if data is None:
        return Decoded("null", None, 0)
    size = len(data)
    cut = size > SHOWN_BYTES
    shown = data[:SHOWN_BYTES] if cut else data
    if as_json and not cut:
        try:
            parsed = orjson.loads(shown)
        except orjson.JSONDecodeError:
            pass
        else:
            return Decoded("json", orjson.dumps(parsed, option=orjson.OPT_INDENT_2).decode(), size)
    text = as_text(shown, cut=cut)
    if text is not None:
        return Decoded("text", text, size, cut)
    return Decoded("hex", shown.hex(), size, cut)


def describe_record(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    """Return one record decoded: offset, time, key, headers and value."""
    moment = datetime.datetime.fromtimestamp(record.timestamp / 1000, tz=datetime.UTC)
    key, value = record.key, record.value
    return {
        "offset": record.offset,
        "timestamp": record.timestamp,
        "time": moment.isoformat(timespec="milliseconds"),
        "timestamp_type": _TIMESTAMP_TYPES.get(record.timestamp_type, "unknown"),
        "key": decode_bytes(key).as_dict(),
        "headers": [
            {"name": name, "value": decode_bytes(raw).as_dict()}
            for name, raw in record.headers or ()
        ],
        "value": decode_bytes(value, as_json=True).as_dict(),
        "tombstone": value is None,
        "size": len(key or b"") + len(value or b""),
    }


class MessageReader:
    """Reads ranges of partitions with one group-less consumer, one read at a time."""

    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._waiting = 0

    async def _started(self) -> AIOKafkaConsumer:
        # Called with the lock held.
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                group_id=None,
                enable_auto_commit=False,
                # A start deleted by retention meanwhile: read from the first offset left.
                auto_offset_reset="earliest",
                client_id=f"{self.client_id}-messages",
            )
            try:
                await consumer.start()
            except BaseException:
                await _stop_quietly(consumer)
                raise
            self._consumer = consumer
        return self._consumer

    async def read(self, tp: TopicPartition, start: int, stop: int) -> list[ConsumerRecord]:
        """Return the records of `tp` from `start` up to `stop`, in offset order."""
        if stop <= start:
            return []
        if self._waiting >= MAX_WAITING_READS:
            raise ClusterUnavailableError("too many reads of messages at once: retry later")
        self._waiting += 1
        try:
            async with asyncio.timeout(READ_SECONDS), self._lock:
                consumer = await self._started()
                try:
                    return await _read_range(consumer, tp, start, stop)
                finally:
                    # Unassigned, the consumer stops prefetching the partition.
                    consumer.unsubscribe()
        except (KafkaError, OSError, TimeoutError) as exc:
            raise ClusterUnavailableError(f"Kafka does not answer a read: {exc!r}") from exc
        finally:
            self._waiting -= 1

    async def close(self) -> None:
        """Stop the consumer (a later read starts a new one)."""
        async with self._lock:
            consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await _stop_quietly(consumer)


async def _read_range(
    consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, stop: int
) -> list[ConsumerRecord]:
    consumer.assign([tp])
    consumer.seek(tp, start)
    found: list[ConsumerRecord] = []
    # The position passes offsets without a record (compacted, transaction markers) too.
    while await consumer.position(tp) < stop:
        batches = await consumer.getmany(tp, timeout_ms=500, max_records=stop - start)
        found.extend(r for r in batches.get(tp, ()) if start <= r.offset < stop)
    return found


async def _stop_quietly(consumer: AIOKafkaConsumer) -> None:
    try:
        await consumer.stop()
    except Exception as exc:  # stopping a half-started consumer: nothing more to do
        log.debug("stopping the messages consumer: %r", exc)
