"""The Kafka cluster as the internal pages see it: topics' offsets, settings, groups' lag.

Read over the worker's own clients, not its consumer's assignment: with several workers
each holds only some partitions, and a page must show the whole group.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from aiokafka.protocol.admin import (
    DescribeGroupsRequest_v0,
    DescribeGroupsRequest_v1,
    DescribeGroupsRequest_v2,
)
from aiokafka.protocol.api import Request

log = logging.getLogger(__name__)

# Each call waits at most this long for Kafka: a page answers 503 rather than hang.
REQUEST_SECONDS = 5.0
# The topic settings a page shows: how long and how much a topic keeps, and how it is cleaned.
TOPIC_SETTINGS = ("retention.ms", "retention.bytes", "cleanup.policy")


class ClusterUnavailableError(Exception):
    """Kafka did not answer a question about the cluster in time."""


@dataclass(frozen=True)
class PartitionOffsets:
    """One partition's first and next offsets (its record count when nothing was deleted)."""

    topic: str
    partition: int
    start: int
    end: int


@dataclass(frozen=True)
class GroupPartition:
    """A consumer group's committed offset on one partition, and how far behind the end it is."""

    group: str
    topic: str
    partition: int
    committed: int | None  # None: the group never committed on this partition
    end: int

    @property
    def lag(self) -> int:
        """Return the records past the committed offset (all of them when none is)."""
        return max(0, self.end - (self.committed or 0))


@dataclass(frozen=True)
class GroupSummary:
    """A consumer group as the broker describes it, with its lag on every topic it commits on."""

    group: str
    protocol_type: str
    state: str | None  # None: the broker did not describe the group
    members: int | None
    partitions: list[GroupPartition]

    @property
    def lag(self) -> int:
        """Return the group's lag summed over its partitions."""
        return sum(partition.lag for partition in self.partitions)


class ClusterView:
    """One admin client and one group-less consumer, started on first use and reused."""

    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        async with self._lock:
            if self._admin is None or self._consumer is None:
                admin = AIOKafkaAdminClient(
                    bootstrap_servers=self.bootstrap_servers, client_id=f"{self.client_id}-admin"
                )
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self.bootstrap_servers,
                    group_id=None,
                    enable_auto_commit=False,
                    client_id=f"{self.client_id}-cluster",
                )
                try:
                    await asyncio.wait_for(admin.start(), REQUEST_SECONDS)
                    await asyncio.wait_for(consumer.start(), REQUEST_SECONDS)
                except (KafkaError, OSError, TimeoutError) as exc:
                    await _close_quietly(admin, consumer)
                    raise ClusterUnavailableError(f"Kafka does not answer: {exc!r}") from exc
                self._admin, self._consumer = admin, consumer
            return self._admin, self._consumer

    async def close(self) -> None:
        """Stop both clients (a later call starts new ones)."""
        async with self._lock:
            admin, consumer = self._admin, self._consumer
            self._admin = self._consumer = None
        await _close_quietly(admin, consumer)

    async def topic_partitions(self, names: Iterable[str] | None = None) -> list[TopicPartition]:
        """Return every partition of the named topics (of every topic when None), sorted."""
        admin, _ = await self._clients()
        try:
            # Fresh metadata of every topic: the consumer's own would learn of a topic created
            # since its last refresh only minutes later, and naming a topic in a metadata
            # request lets a broker with auto.create.topics.enable create it.
            described = await asyncio.wait_for(admin.describe_topics(), REQUEST_SECONDS)
        except (KafkaError, TimeoutError) as exc:
            raise ClusterUnavailableError(f"no topic metadata: {exc!r}") from exc
        known = {
            str(topic["topic"]): sorted(int(p["partition"]) for p in topic["partitions"])
            for topic in described
            if not topic["error_code"] and not topic.get("is_internal")
        }
        wanted = sorted(known if names is None else set(names) & set(known))
        return [TopicPartition(topic, partition) for topic in wanted for partition in known[topic]]

    async def offsets(self, partitions: list[TopicPartition]) -> list[PartitionOffsets]:
        """Return the first and next offset of each partition."""
        _, consumer = await self._clients()
        try:
            starts = await asyncio.wait_for(consumer.beginning_offsets(partitions), REQUEST_SECONDS)
            ends = await asyncio.wait_for(consumer.end_offsets(partitions), REQUEST_SECONDS)
        except (KafkaError, TimeoutError) as exc:
            raise ClusterUnavailableError(f"no offsets: {exc!r}") from exc
        return [PartitionOffsets(tp.topic, tp.partition, starts[tp], ends[tp]) for tp in partitions]

    async def group_lag(self, group: str, topics: Iterable[str]) -> list[GroupPartition]:
        """Return the group's committed offset and lag on every partition of `topics`."""
        admin, consumer = await self._clients()
        partitions = await self.topic_partitions(topics)
        if not partitions:
            return []
        try:
            committed = await asyncio.wait_for(
                admin.list_consumer_group_offsets(group, partitions=partitions), REQUEST_SECONDS
            )
            ends = await asyncio.wait_for(consumer.end_offsets(partitions), REQUEST_SECONDS)
        except (KafkaError, TimeoutError) as exc:
            raise ClusterUnavailableError(f"no offsets of group {group}: {exc!r}") from exc
        return [
            GroupPartition(group, tp.topic, tp.partition, _committed(committed.get(tp)), ends[tp])
            for tp in partitions
        ]

    async def topic_settings(self, names: Iterable[str]) -> dict[str, dict[str, str | None]]:
        """Return TOPIC_SETTINGS of each named topic as the broker states them (None: unknown)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        admin, _ = await self._clients()
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, name, dict.fromkeys(TOPIC_SETTINGS))
            for name in wanted
        ]
        try:
            responses = await asyncio.wait_for(admin.describe_configs(resources), REQUEST_SECONDS)
        except (KafkaError, TimeoutError) as exc:
            raise ClusterUnavailableError(f"no topic settings: {exc!r}") from exc
        found = {name: dict.fromkeys(TOPIC_SETTINGS) for name in wanted}
        for response in responses:
            for resource in getattr(response, "resources", ()):
                found.update(_settings_of(resource))
        return found

    async def groups(self) -> list[GroupSummary]:
        """Return every consumer group the brokers know, described, with its lag (group_lag)."""
        admin, _ = await self._clients()
        try:
            listed = await asyncio.wait_for(admin.list_consumer_groups(), REQUEST_SECONDS)
            kinds = {str(entry[0]): str(entry[1]) for entry in listed}
            names = sorted(kinds)
            described = await asyncio.wait_for(_describe(admin, names), REQUEST_SECONDS)
            committed = await asyncio.wait_for(
                asyncio.gather(*(admin.list_consumer_group_offsets(name) for name in names)),
                REQUEST_SECONDS,
            )
        except (KafkaError, TimeoutError) as exc:
            raise ClusterUnavailableError(f"no consumer groups: {exc!r}") from exc
        # The topics a group committed on are those whose lag it can have.
        lags = await asyncio.gather(
            *(
                self.group_lag(name, {tp.topic for tp in offsets})
                for name, offsets in zip(names, committed, strict=True)
            )
        )
        summaries = []
        for name, partitions in zip(names, lags, strict=True):
            state, members = described.get(name, (None, None))
            summaries.append(GroupSummary(name, kinds[name], state, members, partitions))
        return summaries


class DescribeGroupsUpToV2(
    Request[DescribeGroupsRequest_v0 | DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2]
):
    """DescribeGroups at version 2 at most, whatever the broker offers.

    aiokafka 0.14 sends v3 to a broker that takes it but decodes the answer with v2's schema
    (v3 adds each group's authorized operations), which fails on the bytes left over; its
    `describe_consumer_groups` cannot describe several groups on a Kafka 4 broker.
    """

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: type[Any]) -> Any:
        """Return the request at the version negotiated (v2's fields are v0's)."""
        return request_struct_class(self._groups)


async def _describe(
    admin: AIOKafkaAdminClient, names: list[str]
) -> dict[str, tuple[str | None, int | None]]:
    """Return each group's (state, member count) from DescribeGroups, asked of its coordinator."""
    by_coordinator: dict[int, list[str]] = {}
    for name in names:
        by_coordinator.setdefault(await admin.find_coordinator(name), []).append(name)
    # The admin client's own connection, since its public call cannot be used (see above).
    responses = await asyncio.gather(
        *(
            admin._client.send(node, DescribeGroupsUpToV2(groups))
            for node, groups in by_coordinator.items()
        )
    )
    found: dict[str, tuple[str | None, int | None]] = {}
    for response in responses:
        # Each entry: (error_code, group, state, protocol_type, protocol, members).
        for entry in getattr(response, "groups", ()):
            if not entry[0]:
                found[str(entry[1])] = (str(entry[2]), len(entry[5]))
    return found


def _settings_of(resource: Sequence[Any]) -> dict[str, dict[str, str | None]]:
    """Return {topic: settings} of one DescribeConfigs resource; nothing for a failed one."""
    # (error_code, error_message, resource_type, resource_name, config_entries)
    error_code, _, _, name, entries = resource[:5]
    if error_code:
        return {}
    values: dict[str, str | None] = dict.fromkeys(TOPIC_SETTINGS)
    # Each entry starts with (name, value, ...).
    values.update({str(e[0]): e[1] for e in entries if e[0] in values})
    return {str(name): values}


def _committed(found: object) -> int | None:
    # OffsetFetch answers -1 for a partition the group never committed on.
    offset = getattr(found, "offset", None)
    return offset if isinstance(offset, int) and offset >= 0 else None


async def _close_quietly(*clients: object) -> None:
    for client in clients:
        closer = getattr(client, "close", None) or getattr(client, "stop", None)
        if closer is None:
            continue
        try:
            await closer()
        except Exception as exc:  # closing a half-started client: nothing more to do
            log.debug("closing %r: %r", client, exc)
