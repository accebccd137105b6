"""The write API's Kafka link: one log line when Kafka goes away, one when it is back."""

import logging

import pytest

from cud_api.todos.kafka_link import KafkaLink


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_repeated_errors_log_one_line_and_the_return_logs_the_outage_length(caplog):
    clock = Clock()
    link = KafkaLink(clock)
    with caplog.at_level(logging.INFO, logger="cud_api.todos.kafka"):
        assert link.failed("Connection refused") is True
        for _ in range(50):
            clock.now += 0.5
            assert link.failed("Connection refused") is False
        assert link.down
        assert link.answered() == pytest.approx(25.0)
        assert link.answered() is None
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "Kafka unreachable from the write API: Connection refused",
        "Kafka reachable again from the write API after 25.0s",
    ]
    assert not link.down


def test_successes_while_up_log_nothing(caplog):
    link = KafkaLink(Clock())
    with caplog.at_level(logging.INFO, logger="cud_api.todos.kafka"):
        assert link.answered() is None
    assert caplog.records == []


def test_a_second_outage_is_told_again():
    clock = Clock()
    link = KafkaLink(clock)
    assert link.failed("down")
    clock.now += 3
    assert link.answered() == pytest.approx(3.0)
    assert link.failed("down again")
    clock.now += 7
    assert link.answered() == pytest.approx(7.0)
