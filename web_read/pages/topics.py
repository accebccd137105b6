"""The topic browser: `GET /topics` (the page), its state JSON and one partition's messages.

The page holds no data and is open; the JSON is internal (loopback callers or staff tokens).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import TopicPartition
from faust import web

from contracts.paging import IntegerRange, QueryError, QueryPairs, collect
from streams.monitoring.clients import cluster, reader
from streams.monitoring.cluster import (
    ClusterUnavailableError,
    GroupSummary,
    PartitionOffsets,
)
from streams.monitoring.messages import (
    MESSAGES_DEFAULT,
    MESSAGES_MAX,
    describe_record,
    page_window,
)
from web_read.api_view import ApiView
from web_read.errors import BadRequestError, NotFoundError, UnavailableError
from web_read.internal import require_internal_access
from web_read.pages.assets import StaticPageView

log = logging.getLogger(__name__)

PAGE = "topics.html"
PARTITION = IntegerRange(0, 2**31 - 1)
BEFORE = IntegerRange(0, 2**63 - 1)
LIMIT = IntegerRange(1, MESSAGES_MAX)
MESSAGES_PARAMETERS = ("before", "limit")
KAFKA_DOWN = "Kafka does not answer: the topics cannot be shown now, retry later."
T = TypeVar("T")


@dataclass(frozen=True)
class MessagesQuery:
    """Which page of a partition's messages was asked for."""

    before: int | None = None  # None: the partition's end
    limit: int = MESSAGES_DEFAULT


def _or_bad_request(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except QueryError as exc:
        raise BadRequestError(str(exc)) from None


def parse_partition(text: str) -> int:
    """Return the partition number in a path, or raise BadRequestError."""
    return _or_bad_request(lambda: PARTITION.parse("partition", text))


def parse_messages_query(pairs: QueryPairs) -> MessagesQuery:
    """Return `before` and `limit`, or raise BadRequestError naming the bad one."""
    query = _or_bad_request(lambda: collect(pairs, MESSAGES_PARAMETERS))
    return MessagesQuery(
        before=_or_bad_request(lambda: BEFORE.parse("before", query["before"]))
        if "before" in query
        else None,
        limit=_or_bad_request(lambda: LIMIT.parse("limit", query["limit"]))
        if "limit" in query
        else MESSAGES_DEFAULT,
    )


def state_body(
    offsets: list[PartitionOffsets],
    settings: dict[str, dict[str, str | None]],
    groups: list[GroupSummary],
) -> dict[str, Any]:
    """Return the page's state: every topic with its partitions and settings, every group."""
    topics: dict[str, dict[str, Any]] = {}
    for found in offsets:
        topic = topics.setdefault(
            found.topic,
            {"name": found.topic, "settings": settings.get(found.topic, {}), "partitions": []},
        )
        topic["partitions"].append(
            {"partition": found.partition, "start": found.start, "end": found.end}
        )
    for topic in topics.values():
        topic["messages"] = sum(p["end"] - p["start"] for p in topic["partitions"])
    return {
        "topics": list(topics.values()),
        "groups": [
            {
                "group": group.group,
                "protocol_type": group.protocol_type,
                "state": group.state,
                "members": group.members,
                "lag": group.lag,
                "partitions": [
                    {
                        "topic": p.topic,
                        "partition": p.partition,
                        "committed": p.committed,
                        "end": p.end,
                        "lag": p.lag,
                    }
                    for p in group.partitions
                ],
            }
            for group in groups
        ],
    }


class TopicsPageView(StaticPageView):
    """`GET /topics`: the topic browser's page."""

    page = PAGE


class TopicsStateView(ApiView):
    """`GET /topics/state`: every topic's partitions, offsets and settings; every group's lag."""

    async def get(self, request: web.Request) -> web.Response:
        """Return the cluster's state, or a 503 when Kafka does not answer."""
        require_internal_access(request)
        _or_bad_request(lambda: collect(request.query.items(), ()))
        try:
            partitions = await cluster.topic_partitions()
            offsets, settings, groups = await asyncio.gather(
                cluster.offsets(partitions),
                cluster.topic_settings({tp.topic for tp in partitions}),
                cluster.groups(),
            )
        except ClusterUnavailableError as exc:
            log.warning("topic browser state: %s", exc)
            raise UnavailableError(KAFKA_DOWN) from None
        return self.json_bytes(state_body(offsets, settings, groups))


class TopicMessagesView(ApiView):
    """`GET /topics/{topic}/{partition}/messages?before=&limit=`: a page of decoded messages."""

    async def get(self, request: web.Request, topic: str, partition: str) -> web.Response:
        """Return up to `limit` messages before offset `before` (the end), newest first."""
        require_internal_access(request)
        number = parse_partition(partition)
        query = parse_messages_query(request.query.items())
        tp = TopicPartition(topic, number)
        try:
            known = await cluster.topic_partitions([topic])
            if tp not in known:
                raise NotFoundError(_missing(topic, number, len(known)))
            [offsets] = await cluster.offsets([tp])
            window = page_window(offsets.start, offsets.end, query.before, query.limit)
            records = await reader.read(tp, window.start, window.stop)
        except ClusterUnavailableError as exc:
            log.warning("topic browser messages of %s[%s]: %s", topic, number, exc)
            raise UnavailableError(KAFKA_DOWN) from None
        return self.json_bytes(
            {
                "topic": topic,
                "partition": number,
                "start": offsets.start,
                "end": offsets.end,
                "first": window.start,
                "stop": window.stop,
                "limit": query.limit,
                "messages": [describe_record(record) for record in reversed(records)],
                "next_before": window.next_before,
                "at_start": window.at_start,
            }
        )


def _missing(topic: str, number: int, count: int) -> str:
    if count == 0:
        return f"No topic named {topic!r}."
    return f"Topic {topic!r} has partitions 0 to {count - 1}: there is no partition {number}."
