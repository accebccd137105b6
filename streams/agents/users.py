"""Users reader: every partition of USER_CHANGES, from its start, into `streams.users`.

Not an agent of the worker's consumer group: a group member reads only the partitions it is
assigned, and every worker must know every user. So each worker runs its own consumer with
no group (nothing committed), assigned all partitions, reading the compacted topic from
offset 0 on every start and following it after. docs/decisions/read-api-tokens.md says why
not a GlobalTable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from mode import Service

from contracts import topics
from streams.app import app, settings
from streams.users import DenyList, deny_list

log = logging.getLogger(__name__)

#: How often to look again for a topic that does not exist yet (Debezium creates it).
TOPIC_WAIT_SECONDS = 1.0
#: The consumer's metadata refresh: how soon a topic created after the start is seen.
METADATA_MAX_AGE_MS = 2000
FETCH_TIMEOUT_MS = 500
#: Bounds of the wait before a failed reader starts over (doubled each time).
RETRY_INITIAL_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0


class Consumer(Protocol):
    """The part of aiokafka's consumer the reader uses (a fake in unit tests)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def partitions_for_topic(self, topic: str) -> set[int] | None: ...
    def assign(self, partitions: list[TopicPartition]) -> None: ...
    async def seek_to_beginning(self, *partitions: TopicPartition) -> None: ...
    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...
    async def position(self, partition: TopicPartition) -> int: ...
    async def getmany(self, *, timeout_ms: int) -> Mapping[TopicPartition, Iterable[Any]]: ...


def new_consumer() -> Consumer:
    """Return a consumer of raw bytes in no group, committing nothing."""
    consumer: Consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"{settings.app_id}-users",
        # Tracking no topic, the client's refresh fetches every topic's metadata, which is
        # what `partitions_for_topic` reads (and a request for all topics creates none).
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
    )
    return consumer


class UserChangesReader:
    """Fills a deny list from every partition of one topic; `caught_up` once at its end."""

    def __init__(
        self,
        deny: DenyList,
        consumer_factory: Callable[[], Consumer] = new_consumer,
        *,
        topic: str = topics.USER_CHANGES,
        topic_wait: float = TOPIC_WAIT_SECONDS,
        retry_initial: float = RETRY_INITIAL_SECONDS,
    ) -> None:
        self.deny = deny
        self.topic = topic
        self.topic_wait = topic_wait
        self.retry_initial = retry_initial
        self._consumer_factory = consumer_factory

    async def run(self) -> None:
        """Read the topic for as long as the task lives (cancelled on stop), retrying failures."""
        wait = self.retry_initial
        while True:
            try:
                await self.read_all()
            except Exception as exc:  # a broker outage must not end the list's updates for good
                log.warning("users reader failed, starting over in %.1fs: %r", wait, exc)
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY_MAX_SECONDS)

    async def read_all(self) -> None:
        """Assign every partition, read them from the start and follow them."""
        consumer = self._consumer_factory()
        try:
            await consumer.start()
            partitions = await self._partitions(consumer)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            while True:
                await self.read_once(consumer, ends)
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: Consumer) -> list[TopicPartition]:
        waited = False
        while True:
            found = consumer.partitions_for_topic(self.topic)
            if found:
                return [TopicPartition(self.topic, p) for p in sorted(found)]
            if not waited:
                log.info("waiting for topic %s: every user is trusted until then", self.topic)
                waited = True
            await asyncio.sleep(self.topic_wait)

    async def read_once(self, consumer: Consumer, ends: Mapping[TopicPartition, int]) -> None:
        """Apply one fetch's records, then note whether the start's end offsets are reached."""
        batches = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS)
        for tp, records in batches.items():
            for record in records:
                where = f"{tp.topic}[{tp.partition}]@{record.offset}"
                self.deny.apply_record(record.key, record.value, where)
        if not self.deny.caught_up:
            positions = [await consumer.position(tp) for tp in ends]
            if all(at >= ends[tp] for at, tp in zip(positions, ends, strict=True)):
                self.deny.caught_up = True
                log.info("users deny list caught up: %s", self.deny.status())


class UserChangesService(Service):
    """Runs the users reader beside the worker's agents and stops it with them."""

    reader: UserChangesReader

    async def on_start(self) -> None:
        """Start reading in the background."""
        self.add_future(self.reader.run())


@app.service
class _UserChanges(UserChangesService):
    """Bind the reader to this worker's deny list."""

    reader = UserChangesReader(deny_list)
