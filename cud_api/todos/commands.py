"""Commands on Kafka topic `todos`: building them and publishing them durably.

One long-lived confluent-kafka Producer per process, created lazily on first use so that it
is born after gunicorn forks its workers (librdkafka threads do not survive a fork). A poller
thread serves delivery reports; each request waits for its own report, so a 202 is only
answered once the broker acknowledged the command (acks=all, idempotent producer).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from django.conf import settings

from contracts import topics
from contracts.records import Operation, encode_command, encode_todo_key
from cud_api.core.dependency_link import KAFKA
from cud_api.core.exceptions import DependencyUnavailableError
from cud_api.metrics.registry import COMMANDS_PRODUCED, PRODUCE_DURATION, PRODUCE_FAILURES

logger = logging.getLogger(__name__)

# While Kafka is down, writes are refused at once and the delivery thread asks the broker for
# metadata, for at most this long each second, to tell when it is back.
PROBE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Command:
    """One command for the Faust command agent (README "The command")."""

    command_id: uuid.UUID
    todo_id: int
    operation: str
    data: Mapping[str, Any]
    timestamp: datetime
    # The caller's user id, from their token (never from the body).
    owner_id: int


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored an acknowledged command."""

    topic: str
    partition: int
    offset: int


def command_build(
    *,
    todo_id: int,
    operation: str,
    data: Mapping[str, Any],
    owner_id: int,
    command_id: uuid.UUID | None = None,
    timestamp: datetime | None = None,
) -> Command:
    """Build a command on behalf of `owner_id`, with a fresh uuid4 and UTC time unless given."""
    return Command(
        command_id=command_id or uuid.uuid4(),
        todo_id=todo_id,
        operation=operation,
        data=dict(data),
        timestamp=timestamp or datetime.now(UTC),
        owner_id=owner_id,
    )


def command_key(todo_id: int) -> bytes:
    """Return the record key for a todo (the contracts' key codec)."""
    return encode_todo_key(todo_id)


def command_value(command: Command) -> bytes:
    """Serialize a command to the JSON value carried on `todos`."""
    return encode_command(
        command_id=command.command_id,
        todo_id=command.todo_id,
        operation=cast(Operation, command.operation),
        data=command.data,
        timestamp=command.timestamp,
        owner_id=command.owner_id,
    )


def producer_config() -> dict[str, Any]:
    """Return the librdkafka configuration of the command producer."""
    timeout_ms = settings.KAFKA_DELIVERY_TIMEOUT_MS
    return {
        "bootstrap.servers": settings.KAFKA_BROKER_URL,
        "client.id": f"cud_api-{os.getpid()}",
        "acks": "all",
        "enable.idempotence": True,
        # Java's default partitioner (murmur2 of the key bytes), as aiokafka and Debezium's
        # Connect producer use, so a todo's command and its CDC events share a partition number.
        "partitioner": "murmur2_random",
        # Bounded delivery: after this long librdkafka reports the message as failed.
        "message.timeout.ms": timeout_ms,
        "request.timeout.ms": min(timeout_ms, 30000),
        # Small linger: concurrent requests still batch, a lone request is not held back.
        "linger.ms": settings.KAFKA_LINGER_MS,
        # Reconnect quickly after a broker restart instead of backing off for up to 10 s.
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 1000,
        # Connection failures reach error_cb (rate-limited there); keep stderr quiet.
        "log.connection.close": False,
        "log_level": 2,
        "error_cb": _on_error,
    }


class ProduceFailedError(DependencyUnavailableError):
    """Kafka did not take or acknowledge a command (503), with a bounded metrics reason."""

    def __init__(self, reason: str, dependency: str, message: str, detail: str = "") -> None:
        super().__init__(dependency, message, detail)
        self.reason = reason


def delivery_failure_reason(error: KafkaError | None) -> str:
    """Name a failed delivery report by librdkafka's error name (a fixed set), e.g.
    `delivery_msg_timed_out`."""
    if error is None:
        return "delivery_unknown"
    return "delivery_" + error.name().lstrip("_").lower()


@dataclass
class _Pending:
    """A produced message whose delivery report the request thread is waiting for."""

    done: threading.Event = field(default_factory=threading.Event)
    error: KafkaError | None = None
    delivery: Delivery | None = None
    # perf_counter() when the report arrived: the produce latency ends at the ack, not when
    # the request thread wakes up.
    reported_at: float = 0.0

    def on_delivery(self, error: KafkaError | None, message: Message) -> None:
        """Record the broker's verdict (called on the poller thread)."""
        self.reported_at = time.perf_counter()
        if error is None:
            self.delivery = Delivery(
                topic=message.topic() or "",
                partition=message.partition() or 0,
                offset=message.offset() or 0,
            )
        self.error = error
        self.done.set()


class CommandPublisher:
    """A process's producer plus the thread that serves its delivery reports."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.pid = os.getpid()
        self.broken = False
        self.producer = Producer(dict(config))
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.05)
            # Nothing is delivered while Kafka is down, so the probe holds no report back.
            KAFKA.probe_while_down(self._probe)

    def publish(
        self, *, topic: str, key: bytes, value: bytes, timeout: float, operation: str
    ) -> Delivery:
        """Produce one record and wait for its delivery report; raise if it was not stored.

        Counts it in the produce metrics under `operation`, acknowledged or failed (unless the
        metrics are off).
        """
        try:
            delivery, latency = self._publish(topic=topic, key=key, value=value, timeout=timeout)
        except ProduceFailedError as exc:
            if settings.METRICS_ON:
                PRODUCE_FAILURES.labels(exc.reason).inc()
            raise
        if settings.METRICS_ON:
            COMMANDS_PRODUCED.labels(operation).inc()
            PRODUCE_DURATION.labels(operation).observe(latency)
        return delivery

    def _publish(
        self, *, topic: str, key: bytes, value: bytes, timeout: float
    ) -> tuple[Delivery, float]:
        """Produce and wait; return the delivery and the seconds from produce to its report."""
        # Kafka may have gone away since the write's admission; publish() counts this refusal.
        if (refused := _refusal_while_down()) is not None:
            raise refused
        pending = _Pending()
        started = time.perf_counter()
        try:
            self.producer.produce(topic, value=value, key=key, on_delivery=pending.on_delivery)
        except BufferError as exc:
            raise ProduceFailedError(
                "queue_full",
                "kafka",
                "Kafka is not accepting commands right now.",
                f"local queue full: {exc}",
            ) from exc
        except KafkaException as exc:
            raise ProduceFailedError(
                "produce_error", "kafka", "Kafka is not accepting commands right now.", str(exc)
            ) from exc
        # librdkafka reports every message within message.timeout.ms; the margin covers the
        # poller's interval, so giving up here means the report truly did not come.
        if not pending.done.wait(timeout + 1.0):
            raise ProduceFailedError(
                "no_delivery_report",
                "kafka",
                "Kafka did not acknowledge the command in time; retry later.",
                f"no delivery report within {timeout + 1.0:.1f}s",
            )
        if pending.error is not None or pending.delivery is None:
            KAFKA.failed(pending.error)
            raise ProduceFailedError(
                delivery_failure_reason(pending.error),
                "kafka",
                "Kafka did not acknowledge the command; retry later.",
                str(pending.error),
            )
        KAFKA.answered()
        return pending.delivery, pending.reported_at - started

    def _probe(self) -> Exception | None:
        """Ask the broker for the command topic's metadata; return the error, if any."""
        try:
            command_topic_metadata(self.producer, PROBE_TIMEOUT_S)
        except Exception as exc:  # whatever the cause, the delivery thread must go on
            return exc
        return None

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is still queued, then stop the poller."""
        try:
            self.producer.flush(timeout)
        finally:
            self._stop.set()


def _refusal_while_down() -> ProduceFailedError | None:
    """The 503 of a write while this process knows Kafka to be down, else None."""
    if not KAFKA.down:
        return None
    return ProduceFailedError(
        "unreachable",
        "kafka",
        "Kafka is unreachable; the command was not sent. Retry later.",
        "Kafka is down (it did not answer the last metadata request)",
    )


def command_admission_check() -> None:
    """Refuse a write at once (503, counted as a produce failure) while this process knows
    Kafka to be down; called before any other work of a write, so a refusal costs no
    PostgreSQL round trip."""
    refused = _refusal_while_down()
    if refused is None:
        return
    if settings.METRICS_ON:
        PRODUCE_FAILURES.labels(refused.reason).inc()
    raise refused


_publisher: CommandPublisher | None = None
_publisher_lock = threading.Lock()
# While the broker is down librdkafka reports the same error every reconnect attempt: the log
# gets one line when it goes away and one when it answers again (cud_api.core.dependency_link).


def _on_error(error: KafkaError) -> None:
    """Log client-level errors; a fatal one retires the producer so the next call makes anew."""
    if error.fatal():
        logger.error("Kafka producer fatal error, replacing the producer: %s", error)
        if _publisher is not None:
            _publisher.broken = True
        return
    KAFKA.failed(error)


def publisher_get() -> CommandPublisher:
    """Return this process's publisher, creating it on first use (and after a fork)."""
    global _publisher
    current = _publisher
    if current is not None and current.pid == os.getpid() and not current.broken:
        return current
    with _publisher_lock:
        current = _publisher
        if current is None or current.pid != os.getpid() or current.broken:
            # A publisher inherited through fork() has no librdkafka threads: never reuse it.
            current = CommandPublisher(producer_config())
            _publisher = current
            atexit.register(current.close)
        return current


def command_publish(command: Command) -> Delivery:
    """Publish a command to `todos` and return once the broker acknowledged it."""
    return publisher_get().publish(
        topic=topics.COMMANDS,
        key=command_key(command.todo_id),
        value=command_value(command),
        timeout=settings.KAFKA_DELIVERY_TIMEOUT_MS / 1000,
        operation=command.operation,
    )


def command_topic_metadata(producer: Producer, timeout: float) -> dict[str, Any]:
    """Ask the broker for the command topic's metadata; raise if it does not answer in time."""
    metadata = producer.list_topics(topic=topics.COMMANDS, timeout=timeout)
    topic = metadata.topics.get(topics.COMMANDS)
    if topic is None or topic.error is not None:
        reason = topic.error if topic is not None else "missing"
        raise KafkaException(f"topic {topics.COMMANDS}: {reason}")
    return {"brokers": len(metadata.brokers), "partitions": len(topic.partitions)}


def kafka_check(timeout: float = 2.0) -> dict[str, Any]:
    """The command topic's metadata from this process's producer; raise if Kafka is away."""
    found = command_topic_metadata(publisher_get().producer, timeout)
    KAFKA.answered()
    return found
