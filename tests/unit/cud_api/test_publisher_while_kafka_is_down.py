"""While Kafka is down a write is refused at once; the delivery thread tells when it is back.

Runs against librdkafka itself: its in-process mock cluster for a broker that answers, and a
closed port for one that does not.
"""

import threading

import pytest

from cud_api.core import dependency_link
from cud_api.todos import commands
from cud_api.todos.commands import CommandPublisher, ProduceFailedError, producer_config
from tests.support.polling import wait_for

CLOSED_PORT = "127.0.0.1:9"


@pytest.fixture
def kafka_link(monkeypatch):
    """A fresh Kafka link, marked down, in place of the process's own."""
    link = dependency_link.DependencyLink("Kafka")
    link.failed("Connection refused")
    monkeypatch.setattr(commands, "KAFKA", link)
    monkeypatch.setattr(commands, "PROBE_TIMEOUT_S", 0.3)
    return link


def publisher(**overrides):
    config = {k: v for k, v in producer_config().items() if k != "error_cb"}
    made = CommandPublisher({**config, **overrides})
    yield made
    made.close(2)


@pytest.fixture
def unreachable():
    yield from publisher(**{"bootstrap.servers": CLOSED_PORT})


@pytest.fixture
def answering():
    yield from publisher(**{"test.mock.num.brokers": 1})


class RecordingProducer:
    """librdkafka's producer, with each produce() call recorded."""

    def __init__(self, producer) -> None:
        self.producer = producer
        self.produced: list[tuple] = []

    def produce(self, *args, **kwargs):
        self.produced.append(args)
        return self.producer.produce(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.producer, name)


def publish(made: CommandPublisher):
    return made.publish(topic="todos", key=b"1", value=b"{}", timeout=5.0, operation="create")


def test_a_write_while_kafka_is_down_is_refused_as_unreachable_and_never_sent(
    kafka_link, unreachable
):
    recording = unreachable.producer = RecordingProducer(unreachable.producer)
    with pytest.raises(ProduceFailedError) as refused:
        publish(unreachable)
    assert refused.value.reason == "unreachable"
    assert refused.value.dependency == "kafka"
    assert recording.produced == []
    assert kafka_link.down


def test_the_delivery_thread_finds_kafka_back_and_writes_are_acknowledged_again(
    kafka_link, answering
):
    wait_for(lambda: not kafka_link.down, timeout=10, message="the probe finds the broker")
    delivery = publish(answering)
    assert delivery.topic == "todos"
    assert delivery.offset >= 0


@pytest.fixture
def probed_by(kafka_link, monkeypatch):
    """The threads of every probe, each raising a non-Kafka error."""
    threads: list[threading.Thread] = []

    def broken(producer, timeout):
        threads.append(threading.current_thread())
        raise RuntimeError("not a Kafka error")

    monkeypatch.setattr(commands, "command_topic_metadata", broken)
    return threads


@pytest.fixture
def answering_broken_probe(probed_by):
    """A publisher whose probes all raise, from the first (none can find the broker first)."""
    yield from publisher(**{"test.mock.num.brokers": 1})


def test_a_probe_that_raises_leaves_kafka_down_and_the_delivery_thread_probing(
    kafka_link, probed_by, answering_broken_probe
):
    # A second probe by the same thread a second later shows it survived the first one's error.
    poller = answering_broken_probe._poller
    wait_for(lambda: probed_by.count(poller) >= 2, timeout=10, message="a second probe")
    assert kafka_link.down
