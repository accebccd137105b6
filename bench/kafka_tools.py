"""Kafka helpers for the harness: topics, end offsets and consumer-group lag."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from compose.polling import wait_until

# Consumer groups the bench itself creates: never counted as the pipeline's lag.
BENCH_GROUP_PREFIX = "bench-"
# Every admin call gives up within this (librdkafka's default is socket.timeout.ms, 60 s), also
# while a broker is away; waiting on a call's future is bounded by the same plus
# FUTURE_MARGIN_S, in case its answer never comes.
ADMIN_TIMEOUT_S = 10.0
TOPIC_CREATE_TIMEOUT_S = 30.0
FUTURE_MARGIN_S = 5.0


class Kafka:
    """A thin admin view of the stack's broker; every call bounded by ADMIN_TIMEOUT_S."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        # The outages path stops the broker under this client: its calls fail through their
        # bounded futures, so librdkafka's own line per reconnect attempt is left out.
        self.admin = AdminClient(
            {"bootstrap.servers": bootstrap, "log.connection.close": False, "log_level": 2}
        )

    def ensure_topic(self, name: str, partitions: int) -> None:
        """Create `name` with `partitions` partitions unless it exists."""
        if name in self.admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics:
            return
        futures = self.admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)],
            operation_timeout=TOPIC_CREATE_TIMEOUT_S,
            request_timeout=TOPIC_CREATE_TIMEOUT_S,
        )
        for fut in futures.values():
            try:
                fut.result(timeout=TOPIC_CREATE_TIMEOUT_S + FUTURE_MARGIN_S)
            except Exception as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise

    def partitions(self, topic: str) -> list[int]:
        """Partition numbers of `topic` (empty when it does not exist)."""
        meta = self.admin.list_topics(topic=topic, timeout=ADMIN_TIMEOUT_S).topics.get(topic)
        if meta is None or meta.error is not None:
            return []
        return sorted(meta.partitions)

    def end_offsets(self, topic: str) -> dict[int, int]:
        """High watermark of each partition of `topic`."""
        return self._offsets(topic, OffsetSpec.latest())

    def start_offsets(self, topic: str) -> dict[int, int]:
        """Low watermark of each partition of `topic`."""
        return self._offsets(topic, OffsetSpec.earliest())

    def _offsets(self, topic: str, spec: OffsetSpec) -> dict[int, int]:
        parts = self.partitions(topic)
        if not parts:
            return {}
        request = {TopicPartition(topic, p): spec for p in parts}
        result = self.admin.list_offsets(request, request_timeout=ADMIN_TIMEOUT_S)
        wait = ADMIN_TIMEOUT_S + FUTURE_MARGIN_S
        return {tp.partition: fut.result(timeout=wait).offset for tp, fut in result.items()}

    def message_count(self, topic: str) -> int:
        """Records currently held by `topic` (end minus start offsets, summed)."""
        end, start = self.end_offsets(topic), self.start_offsets(topic)
        return sum(end[p] - start.get(p, 0) for p in end)

    def groups_on(
        self, topics: Iterable[str], group: str | None = None
    ) -> dict[str, dict[str, dict[int, int]]]:
        """Committed offsets of `group` (default: every non-bench group) on any of `topics`."""
        wanted = set(topics)
        if group is not None:
            gids = [group]
        else:
            listing = self.admin.list_consumer_groups(request_timeout=ADMIN_TIMEOUT_S).result(
                timeout=ADMIN_TIMEOUT_S + FUTURE_MARGIN_S
            )
            gids = [g.group_id for g in listing.valid]
        found: dict[str, dict[str, dict[int, int]]] = {}
        for gid in gids:
            if group is None and gid.startswith(BENCH_GROUP_PREFIX):
                continue
            futures = self.admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(gid)], request_timeout=ADMIN_TIMEOUT_S
            )
            for fut in futures.values():
                try:
                    res = fut.result(timeout=ADMIN_TIMEOUT_S + FUTURE_MARGIN_S)
                except Exception:  # a group being deleted or rebalancing: skip this reading
                    res = None
                for tp in (res.topic_partitions if res is not None else None) or []:
                    if tp.topic in wanted and tp.offset >= 0:
                        found.setdefault(gid, {}).setdefault(tp.topic, {})[tp.partition] = tp.offset
        return found

    def lag(self, topics: Iterable[str], group: str | None = None) -> dict[str, int]:
        """Lag (records not yet committed) per topic, summed over the pipeline's groups."""
        topics = list(topics)
        ends = {t: self.end_offsets(t) for t in topics}
        lags = dict.fromkeys(topics, 0)
        for per_topic in self.groups_on(topics, group).values():
            for topic, committed in per_topic.items():
                lags[topic] += sum(
                    max(0, end - committed.get(p, 0)) for p, end in ends[topic].items()
                )
        return lags

    def wait_drained(
        self,
        topics: Iterable[str],
        *,
        timeout: float,
        group: str | None = None,
        slack: int = 0,
        interval: float = 1.0,
    ) -> tuple[bool, dict[str, int]]:
        """Wait until the pipeline's lag on `topics` is at most `slack`; return (drained, lag)."""
        topics = list(topics)
        lags: dict[str, int] = {}

        def drained() -> bool:
            nonlocal lags
            try:
                lags = self.lag(topics, group)
            except Exception:  # the broker or a group coordinator is busy: read again
                lags = {}
            return bool(lags) and sum(lags.values()) <= slack

        try:
            wait_until(drained, timeout=timeout, interval=interval, what=f"lag on {topics}")
        except TimeoutError:
            return False, lags
        return True, lags
