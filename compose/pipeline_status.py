"""`make status`'s pipeline section: each consumer group's lag, Kafka Connect's connectors, and
each dependency's state (up, slow, down) and for how long, as the worker's and the write API's
/health report them.

Asked over the launcher's own clients (confluent-kafka's AdminClient, requests), each question
bounded by REQUEST_SECONDS. A service that does not answer becomes one line saying so, and the
rest of the report is still printed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol, cast

import requests

from compose import readiness

# How long one question (one admin request, one HTTP call) may take.
REQUEST_SECONDS = 3.0
# A future's result is awaited a little longer than its request, which times out first.
_MARGIN_SECONDS = 1.0
# The widest a name may print, so a row fits a 100-column terminal.
_NAME_WIDTH = 32

TopicPartitionKey = tuple[str, int]


@dataclass(frozen=True)
class TopicLag:
    """A consumer group's lag on one topic, summed over its partitions."""

    topic: str
    partitions: int
    lag: int


@dataclass(frozen=True)
class GroupLag:
    """One consumer group: its state and its lag per topic it committed offsets on."""

    group: str
    state: str
    topics: tuple[TopicLag, ...] = ()
    error: str | None = None  # its offsets could not be read

    @property
    def total(self) -> int:
        """Return the lag over every topic."""
        return sum(topic.lag for topic in self.topics)


@dataclass(frozen=True)
class KafkaStatus:
    """The consumer groups of one cluster, or why they could not be listed."""

    bootstrap: str
    groups: tuple[GroupLag, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class TaskStatus:
    """One task of a connector."""

    id: int
    state: str
    worker: str
    trace: str = ""  # first line of a failed task's stack trace


@dataclass(frozen=True)
class ConnectorStatus:
    """One connector of Kafka Connect and its tasks."""

    name: str
    type: str
    state: str
    worker: str
    tasks: tuple[TaskStatus, ...] = ()


@dataclass(frozen=True)
class ConnectStatus:
    """Kafka Connect's connectors, or why they could not be listed."""

    url: str
    connectors: tuple[ConnectorStatus, ...] = ()
    error: str | None = None


class AnswerError(Exception):
    """Kafka answered a question with an error (a KafkaError) instead of a result."""


class KafkaAdmin(Protocol):
    """The part of confluent_kafka.admin.AdminClient this module asks."""

    def list_consumer_groups(self, **kwargs: Any) -> Future[Any]: ...

    def list_consumer_group_offsets(self, request: list[Any], **kwargs: Any) -> dict[str, Any]: ...

    def list_topics(self, *args: Any, **kwargs: Any) -> Any: ...

    def list_offsets(self, offsets: dict[Any, Any], **kwargs: Any) -> dict[Any, Any]: ...


# Kafka -----------------------------------------------------------------------------------------


def partition_lag(committed: int | None, start: int, end: int) -> int:
    """Return the records a group has still to read on a partition (all of them if it never
    committed there)."""
    if committed is None or committed < 0:
        return max(0, end - start)
    return max(0, end - committed)


def group_lag(
    group: str,
    state: str,
    committed: Mapping[TopicPartitionKey, int],
    partitions: Mapping[str, Iterable[int]],
    ends: Mapping[TopicPartitionKey, int],
    starts: Mapping[TopicPartitionKey, int],
) -> GroupLag:
    """Sum a group's lag per topic it committed on, over every partition of that topic."""
    topics = []
    for topic in sorted({topic for topic, _ in committed}):
        keys = [(topic, p) for p in sorted(partitions.get(topic, ()))] or sorted(
            key for key in committed if key[0] == topic
        )
        lag = sum(
            partition_lag(committed.get(key), starts.get(key, 0), ends.get(key, 0)) for key in keys
        )
        topics.append(TopicLag(topic=topic, partitions=len(keys), lag=lag))
    return GroupLag(group=group, state=state, topics=tuple(topics))


def _admin(bootstrap: str, timeout: float) -> KafkaAdmin:
    from confluent_kafka.admin import AdminClient

    config: dict[str, str | int | float | bool] = {
        "bootstrap.servers": bootstrap,
        "socket.timeout.ms": int(timeout * 1000),
    }
    return cast(KafkaAdmin, AdminClient(config, logger=logging.getLogger("librdkafka")))


def _state_name(listing: Any) -> str:
    state = getattr(listing, "state", None)
    return str(getattr(state, "name", state or "UNKNOWN"))


def _offsets(
    admin: KafkaAdmin, keys: Iterable[TopicPartitionKey], latest: bool, timeout: float
) -> dict[TopicPartitionKey, int]:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    spec = OffsetSpec.latest() if latest else OffsetSpec.earliest()
    asked = {TopicPartition(topic, partition): spec for topic, partition in keys}
    if not asked:
        return {}
    futures = admin.list_offsets(asked, request_timeout=timeout)
    return {
        (tp.topic, tp.partition): int(future.result(timeout=timeout + _MARGIN_SECONDS).offset)
        for tp, future in futures.items()
    }


def _committed(admin: KafkaAdmin, groups: list[str], timeout: float) -> dict[str, Any]:
    """Each group's committed offsets ({(topic, partition): offset}), or the error reading them."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    futures: dict[str, Any] = {}
    for group in groups:  # one group per request (the client's rule); all asked at once
        futures.update(
            admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=timeout
            )
        )
    found: dict[str, Any] = {}
    for group, future in futures.items():
        try:
            result = future.result(timeout=timeout + _MARGIN_SECONDS)
        except Exception as exc:  # KafkaException, TimeoutError: this group only
            found[group] = _reason(exc)
            continue
        found[group] = {
            (tp.topic, tp.partition): int(tp.offset)
            for tp in result.topic_partitions or []
            if tp.error is None
        }
    return found


def _groups(admin: KafkaAdmin, timeout: float) -> tuple[GroupLag, ...]:
    listed = admin.list_consumer_groups(request_timeout=timeout).result(
        timeout=timeout + _MARGIN_SECONDS
    )
    if listed.errors and not listed.valid:
        # The listing reports an unreachable broker as an error beside an empty list.
        raise AnswerError(listed.errors[0])
    states = {listing.group_id: _state_name(listing) for listing in listed.valid or []}
    names = sorted(states)
    committed = _committed(admin, names, timeout) if names else {}
    offsets = {group: found for group, found in committed.items() if isinstance(found, dict)}
    topics = {topic for found in offsets.values() for topic, _ in found}
    partitions: dict[str, list[int]] = {}
    if topics:
        metadata = admin.list_topics(timeout=timeout)
        partitions = {
            topic: sorted(metadata.topics[topic].partitions)
            for topic in topics
            if topic in metadata.topics
        }
    every = {(topic, p) for topic, ps in partitions.items() for p in ps}
    every |= {key for found in offsets.values() for key in found}
    ends = _offsets(admin, every, latest=True, timeout=timeout)
    # The first offset matters only where some group never committed.
    never = {
        key
        for found in offsets.values()
        for key in every
        if key[0] in {topic for topic, _ in found} and found.get(key, -1) < 0
    }
    starts = _offsets(admin, never, latest=False, timeout=timeout)
    report = []
    for group in names:
        found = committed.get(group, {})
        if isinstance(found, str):
            report.append(GroupLag(group=group, state=states[group], error=found))
        else:
            report.append(group_lag(group, states[group], found, partitions, ends, starts))
    return tuple(report)


def kafka_status(
    bootstrap: str, *, timeout: float = REQUEST_SECONDS, admin: KafkaAdmin | None = None
) -> KafkaStatus:
    """Every consumer group of the cluster with its lag per topic; never raises."""
    if admin is None:
        host, port = _first_broker(bootstrap)
        if not readiness.tcp_open(host, port, timeout=min(timeout, 1.0)):
            return KafkaStatus(bootstrap, error=f"no broker accepts connections on {host}:{port}")
        admin = _admin(bootstrap, timeout)
    try:
        return KafkaStatus(bootstrap, groups=_groups(admin, timeout))
    # A status report names the failure in one line instead of a traceback, whatever it is.
    except Exception as exc:
        return KafkaStatus(bootstrap, error=_reason(exc))


def _first_broker(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0].strip().removeprefix("kafka://")
    host, _, port = first.rpartition(":")
    return host or "localhost", int(port) if port.isdigit() else 9092


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    first: Any = exc.args[0] if exc.args else exc
    # A KafkaException carries a KafkaError, whose str() is a long repr and .str() the reason.
    reason = getattr(first, "str", None)
    text = str(reason() if callable(reason) else first) or type(exc).__name__
    return text.splitlines()[0][:120]


# Kafka Connect ---------------------------------------------------------------------------------


def parse_connectors(body: Any) -> tuple[ConnectorStatus, ...]:
    """Read `GET /connectors?expand=status`'s answer: {name: {"status": {...}}}."""
    if not isinstance(body, dict):
        raise ValueError("not a JSON object of connectors")
    connectors = []
    for name in sorted(body):
        status = (body[name] or {}).get("status") or {}
        connector = status.get("connector") or {}
        tasks = tuple(
            TaskStatus(
                id=int(task.get("id", 0)),
                state=str(task.get("state", "UNKNOWN")),
                worker=str(task.get("worker_id", "")),
                trace=str(task.get("trace") or "").strip().split("\n", 1)[0],
            )
            for task in sorted(status.get("tasks") or [], key=lambda t: int(t.get("id", 0)))
        )
        connectors.append(
            ConnectorStatus(
                name=name,
                type=str(status.get("type", "")),
                state=str(connector.get("state", "UNKNOWN")),
                worker=str(connector.get("worker_id", "")),
                tasks=tasks,
            )
        )
    return tuple(connectors)


def connect_status(
    url: str,
    *,
    timeout: float = REQUEST_SECONDS,
    get: Callable[..., requests.Response] = requests.get,
) -> ConnectStatus:
    """Every connector of Kafka Connect and its tasks' states; never raises."""
    url = url.rstrip("/")
    try:
        response = get(f"{url}/connectors", params={"expand": "status"}, timeout=timeout)
    except requests.Timeout:
        return ConnectStatus(url, error=f"unreachable (no answer within {timeout:g}s)")
    except requests.ConnectionError:
        return ConnectStatus(url, error="unreachable (connection refused)")
    except requests.RequestException as exc:
        return ConnectStatus(url, error=f"unreachable ({type(exc).__name__})")
    if response.status_code != 200:
        detail = response.text.strip().splitlines()[0][:80] if response.text.strip() else ""
        return ConnectStatus(url, error=f"error (HTTP {response.status_code} {detail})".strip())
    try:
        return ConnectStatus(url, connectors=parse_connectors(response.json()))
    except (ValueError, TypeError, AttributeError) as exc:
        return ConnectStatus(url, error=f"error (unexpected answer: {exc})")


# Dependencies, from the services' /health ------------------------------------------------


@dataclass(frozen=True)
class DependencyState:
    """One dependency as a service's /health reports it."""

    name: str
    state: str  # up, slow, down, unknown
    for_s: float | None = None
    since: str | None = None
    error: str | None = None
    latency_ms: float | None = None


@dataclass(frozen=True)
class HealthView:
    """What one service's /health says of its dependencies, or why it did not answer."""

    service: str
    url: str
    dependencies: tuple[DependencyState, ...] = ()
    error: str | None = None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_worker_health(body: Any) -> tuple[DependencyState, ...]:
    """Read the worker's /health: {"dependencies": {name: {"state", "for_s", ...}}}."""
    found = body.get("dependencies") if isinstance(body, dict) else None
    if not isinstance(found, dict):
        raise ValueError("no dependencies in the answer")
    return tuple(
        DependencyState(
            name=str(name),
            state=str(entry.get("state", "unknown")),
            for_s=_number(entry.get("for_s")),
            since=entry.get("since"),
            error=entry.get("last_error"),
            latency_ms=_number(entry.get("latency_ms")),
        )
        for name, entry in sorted(found.items())
        if isinstance(entry, dict)
    )


def parse_write_api_health(body: Any) -> tuple[DependencyState, ...]:
    """Read the write API's /health/: {"data": {name: {"status", "state", "for_s", ...}}}."""
    found = body.get("data") if isinstance(body, dict) else None
    if not isinstance(found, dict):
        raise ValueError("no data in the answer")
    return tuple(
        DependencyState(
            name=str(name),
            state=str(entry.get("state") or entry.get("status", "unknown")),
            for_s=_number(entry.get("for_s")),
            since=entry.get("since"),
            error=entry.get("error"),
            latency_ms=_number(entry.get("latency_ms")),
        )
        for name, entry in sorted(found.items())
        if isinstance(entry, dict)
    )


def health_view(
    service: str,
    url: str,
    parse: Callable[[Any], tuple[DependencyState, ...]],
    *,
    timeout: float = REQUEST_SECONDS,
    get: Callable[..., requests.Response] = requests.get,
) -> HealthView:
    """Ask one service's /health (a 503 answers too); never raises."""
    try:
        response = get(url, timeout=timeout)
    except requests.Timeout:
        return HealthView(service, url, error=f"no answer within {timeout:g}s")
    except requests.ConnectionError:
        return HealthView(service, url, error="not answering (connection refused)")
    except requests.RequestException as exc:
        return HealthView(service, url, error=f"not answering ({type(exc).__name__})")
    try:
        return HealthView(service, url, dependencies=parse(response.json()))
    except (ValueError, TypeError, AttributeError) as exc:
        return HealthView(service, url, error=f"HTTP {response.status_code}, unexpected ({exc})")


def duration_text(seconds: float) -> str:
    """Seconds as a short duration: 42 s, 3 min 5 s, 2 h 10 min."""
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.0f} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def format_health(view: HealthView) -> str:
    """One service's dependencies: trouble first and loud, each with for how long."""
    title = f"{view.service} {view.url}"
    if view.error is not None:
        return f"{title}: {view.error} (its process state is in the table above)"
    if not view.dependencies:
        return f"{title}: no dependencies reported"
    rows: list[tuple[str, ...]] = [("dependency", "state", "for", "since", "detail")]
    order = {"down": 0, "slow": 1}
    for dep in sorted(view.dependencies, key=lambda d: (order.get(d.state, 2), d.name)):
        detail = dep.error or ""
        if dep.state == "slow" and dep.latency_ms is not None:
            detail = f"probe took {dep.latency_ms:.0f} ms"
        rows.append(
            (
                dep.name,
                dep.state.upper() if dep.state in order else dep.state,
                duration_text(dep.for_s) if dep.for_s is not None else "-",
                (dep.since or "-").replace("+00:00", "Z"),
                detail[:60],
            )
        )
    troubled = [d for d in view.dependencies if d.state in order]
    head = (
        "; ".join(
            f"{d.name} {d.state}"
            + (f" for {duration_text(d.for_s)}" if d.for_s is not None else "")
            for d in troubled
        )
        if troubled
        else "every dependency up"
    )
    return "\n".join([f"{title}: {head}", *_aligned(rows, right=frozenset())])


# Report ------------------------------------------------------------------------------------


def _cut(text: str, width: int = _NAME_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def _aligned(rows: list[tuple[str, ...]], right: frozenset[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def format_kafka(status: KafkaStatus) -> str:
    """The consumer groups as an aligned table, or one line saying why there is none."""
    if status.error is not None:
        return f"Kafka: unreachable ({status.error})"
    if not status.groups:
        return f"Kafka {status.bootstrap}: no consumer groups"
    rows: list[tuple[str, ...]] = [
        ("consumer group", "state", "total lag", "topic", "partitions", "lag")
    ]
    for group in status.groups:
        head = (_cut(group.group), group.state)
        if group.error is not None:
            rows.append((*head, "?", f"(offsets unreadable: {group.error})"[:40], "", ""))
            continue
        if not group.topics:
            rows.append((*head, "-", "(no committed offsets)", "", ""))
            continue
        for i, topic in enumerate(group.topics):
            first = (*head, str(group.total)) if i == 0 else ("", "", "")
            rows.append((*first, _cut(topic.topic), str(topic.partitions), str(topic.lag)))
    lines = _aligned(rows, right=frozenset({2, 4, 5}))
    return "\n".join([f"Kafka {status.bootstrap}: {len(status.groups)} consumer group(s)", *lines])


def format_connect(status: ConnectStatus) -> str:
    """The connectors and their tasks as an aligned table, or one line saying why there is none."""
    if status.error is not None:
        return f"Connect: {status.error}"
    if not status.connectors:
        return f"Kafka Connect {status.url}: no connectors"
    rows: list[tuple[str, ...]] = [("connector", "type", "state", "worker")]
    traces: dict[int, str] = {}
    for connector in status.connectors:
        rows.append((_cut(connector.name), connector.type, connector.state, connector.worker))
        for task in connector.tasks:
            rows.append((f"  task {task.id}", "", task.state, task.worker))
            if task.trace:
                traces[len(rows) - 1] = task.trace
    lines = _aligned(rows, right=frozenset())
    out = [f"Kafka Connect {status.url}: {len(status.connectors)} connector(s)"]
    for i, line in enumerate(lines):
        out.append(line)
        if i in traces:
            out.append(f"    {traces[i]}"[:100])
    return "\n".join(out)


def format_pipeline(
    kafka: KafkaStatus, connect: ConnectStatus, health: tuple[HealthView, ...] = ()
) -> str:
    """The dependencies first (what is down), then Kafka's and Connect's sections."""
    sections = [format_health(view) for view in health]
    return "\n\n".join([*sections, format_kafka(kafka), format_connect(connect)])


@dataclass(frozen=True)
class PipelineStatus:
    """What `status` prints below the services' table."""

    kafka: KafkaStatus
    connect: ConnectStatus
    health: tuple[HealthView, ...] = ()

    def format(self) -> str:
        """Every section as text."""
        return format_pipeline(self.kafka, self.connect, self.health)

    def troubled(self) -> dict[str, DependencyState]:
        """Each dependency some service reports down or slow (the worst report of it)."""
        found: dict[str, DependencyState] = {}
        for view in self.health:
            for dep in view.dependencies:
                if dep.state not in ("down", "slow"):
                    continue
                current = found.get(dep.name)
                if current is None or current.state != "down":
                    found[dep.name] = dep
        return found


def pipeline_status(
    bootstrap: str,
    connect_url: str,
    *,
    worker_url: str | None = None,
    write_api_url: str | None = None,
    timeout: float = REQUEST_SECONDS,
) -> PipelineStatus:
    """Ask Kafka, Kafka Connect and the services' /health; each answers or says why not."""
    health = []
    if worker_url is not None:
        url = f"{worker_url.rstrip('/')}/health"
        health.append(health_view("worker", url, parse_worker_health, timeout=timeout))
    if write_api_url is not None:
        url = f"{write_api_url.rstrip('/')}/health/"
        health.append(health_view("write API", url, parse_write_api_health, timeout=timeout))
    return PipelineStatus(
        kafka=kafka_status(bootstrap, timeout=timeout),
        connect=connect_status(connect_url, timeout=timeout),
        health=tuple(health),
    )
