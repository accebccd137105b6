"""While Kafka is down a write is refused after a bounded probe, never after the delivery timeout.

Runs against librdkafka itself: its in-process mock cluster for a broker that answers, and a
closed port for one that does not.
"""

import pytest

from cud_api.core import dependency_link
from cud_api.todos import commands
from cud_api.todos.commands import CommandPublisher, ProduceFailedError, producer_config

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


def publish(made: CommandPublisher):
    return made.publish(topic="todos", key=b"1", value=b"{}", timeout=5.0, operation="create")


def test_a_write_while_kafka_is_down_is_refused_as_unreachable_and_never_sent(
    kafka_link, unreachable
):
    with pytest.raises(ProduceFailedError) as refused:
        publish(unreachable)
    assert refused.value.reason == "unreachable"
    assert refused.value.dependency == "kafka"
    # A produced command would sit in librdkafka's queue, the broker being unreachable.
    assert len(unreachable.producer) == 0
    assert kafka_link.down


def test_a_write_between_probes_is_refused_without_asking_the_broker(kafka_link, unreachable):
    with pytest.raises(ProduceFailedError):
        publish(unreachable)
    asked = []
    unreachable._probe = lambda: asked.append(1)  # the next probe is a second away
    with pytest.raises(ProduceFailedError) as refused:
        publish(unreachable)
    assert refused.value.reason == "unreachable"
    assert asked == []


def test_a_write_after_kafka_returned_is_acknowledged_and_the_link_is_up_again(
    kafka_link, answering
):
    delivery = publish(answering)
    assert delivery.topic == "todos"
    assert delivery.offset >= 0
    assert not kafka_link.down
