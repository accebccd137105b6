"""The log filter: the first record of a kind about an unreachable dependency passes, its
repeats are held back and counted while the dependency is down, anything else always passes."""

from __future__ import annotations

import logging

import pytest

from streams.monitoring import quiet_logs
from streams.monitoring.quiet_logs import QuietDependencyLogs, classify
from tests.support.clock import Clock


def record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


# Messages as aiokafka 0.14, psycopg_pool and the pipeline's retry log them.
UNREACHABLE = [
    ("kafka", record("aiokafka.client", "Unable connect to node with id %s: %s", 1, "refused")),
    ("kafka", record("aiokafka.client", 'Unable connect to "%s:%s": %s', "h", 9092, "x")),
    ("kafka", record("aiokafka.client", "Unable to update metadata from %s", [1])),
    (
        "kafka",
        record("aiokafka.consumer.fetcher", "Failed fetch messages from %s: %s", 1, "NodeNotReady"),
    ),
    (
        "kafka",
        record(
            "aiokafka.consumer.group_coordinator",
            "Heartbeat send request failed: %s. Will retry.",
            "KafkaConnectionError",
        ),
    ),
    (
        "kafka",
        record(
            "faust.transport.drivers.aiokafka",
            "[^--AIOKafkaConsumerThread]: Broker stopped responding to fetch requests for %r "
            "(last responded %s)",
            "TP(topic='todos', partition=0)",
            "2 minutes ago",
        ),
    ),
    (
        "postgres",
        record(
            "psycopg.pool",
            "error connecting in %r: %s",
            "streams",
            "connection refused",
            level=logging.WARNING,
        ),
    ),
    (
        "postgres",
        record(
            "streams.agents.pipeline",
            "%s write of %d failed, retrying in %.1fs: %r",
            "PostgreSQL",
            3,
            0.5,
            OSError("refused"),
            level=logging.WARNING,
        ),
    ),
    (
        "mongodb",
        record(
            "streams.agents.pipeline",
            "%s write of %d failed, retrying in %.1fs: %r",
            "MongoDB",
            3,
            0.5,
            OSError("refused"),
            level=logging.WARNING,
        ),
    ),
]

OTHERS = [
    record(
        "aiokafka.consumer.group_coordinator",
        "Heartbeat failed for group %s because it is rebalancing",
        "g",
        level=logging.WARNING,
    ),
    record("aiokafka.cluster", "Topic %s not found in cluster metadata", "todos"),
    record("streams.dlq", "dead-lettering %s: connection refused", "todos[0]@1"),
    record("aiokafka.client", "Unable connect to node with id %s: %s", 1, "x", level=logging.INFO),
]


@pytest.mark.parametrize(("dependency", "found"), UNREACHABLE)
def test_unreachable_records_are_classified_by_dependency(dependency, found):
    assert classify(found) == dependency


@pytest.mark.parametrize("found", OTHERS)
def test_other_records_are_not_about_an_unreachable_dependency(found):
    assert classify(found) is None


class Down:
    """Which dependencies the test says are down."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def __call__(self, name: str) -> bool:
        return name in self.names


def attempt(node: int = 1) -> logging.LogRecord:
    return record("aiokafka.client", "Unable connect to node with id %s: %s", node, "refused")


def test_while_down_the_first_of_a_kind_passes_and_repeats_are_counted():
    down, clock = Down(), Clock()
    quiet = QuietDependencyLogs(down, clock=clock)
    down.names.add("kafka")
    shown = [quiet.filter(attempt(node=n)) for n in range(250)]
    assert shown == [True] + [False] * 249
    other_kind = record("aiokafka.client", "Unable to update metadata from %s", [1])
    assert quiet.filter(other_kind) is True
    assert quiet.take_held_back() == {"kafka": 249}
    assert quiet.take_held_back() == {}
    clock.now += 3600  # however long it lasts
    assert quiet.filter(attempt()) is False


def test_an_unreachable_record_that_passes_is_shown_as_a_warning_and_others_keep_their_level():
    quiet = QuietDependencyLogs(Down(), clock=Clock())
    first = attempt()
    assert quiet.filter(first) is True
    assert (first.levelno, first.levelname) == (logging.WARNING, "WARNING")
    assert logging.Formatter("%(levelname)s %(message)s").format(first).startswith("WARNING Unable")
    failure = record("streams.agents.pipeline", "dead-lettered %s", 3)
    assert quiet.filter(failure) is True
    assert (failure.levelno, failure.levelname) == (logging.ERROR, "ERROR")


def test_a_kind_passes_again_once_its_dependency_is_back():
    down, clock = Down(), Clock()
    quiet = QuietDependencyLogs(down, clock=clock)
    down.names.add("kafka")
    assert quiet.filter(attempt()) is True
    assert quiet.filter(attempt()) is False
    assert quiet.held_in_outage("kafka") == 1
    down.names.clear()
    quiet.forget("kafka")
    assert quiet.held_in_outage("kafka") == 0
    assert quiet.filter(attempt()) is True


def test_while_up_a_kind_passes_at_most_once_per_repeat_period():
    clock = Clock()
    quiet = QuietDependencyLogs(Down(), clock=clock)
    assert quiet.filter(attempt()) is True
    clock.now += quiet_logs.REPEAT_SECONDS - 1
    assert quiet.filter(attempt()) is False
    clock.now += 1
    assert quiet.filter(attempt()) is True
    assert quiet.take_held_back() == {"kafka": 1}


@pytest.mark.parametrize("found", OTHERS)
def test_other_records_always_pass(found):
    down = Down()
    down.names.update({"kafka", "postgres", "mongodb"})
    quiet = QuietDependencyLogs(down, clock=Clock())
    assert all(quiet.filter(found) for _ in range(5))
    assert quiet.take_held_back() == {}


def test_with_two_handlers_a_record_is_decided_and_counted_once():
    down = Down()
    down.names.add("kafka")
    quiet = QuietDependencyLogs(down, clock=Clock())
    logger = logging.getLogger("aiokafka.client.test-two-handlers")
    logger.propagate = False
    seen: list[list[str]] = [[], []]
    handlers = []
    for sink in seen:
        handler = logging.Handler()
        handler.emit = lambda r, sink=sink: sink.append(r.getMessage())
        handler.addFilter(quiet)
        handlers.append(handler)
        logger.addHandler(handler)
    try:
        for _ in range(3):
            logger.error("Unable connect to node with id %s: %s", 1, "refused")
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
    assert seen == [["Unable connect to node with id 1: refused"]] * 2
    assert quiet.take_held_back() == {"kafka": 2}


def test_install_adds_the_filter_to_each_root_handler_once():
    root = logging.Logger("test-root")
    first, second = logging.Handler(), logging.Handler()
    root.addHandler(first)
    root.addHandler(second)
    quiet = QuietDependencyLogs(Down())
    assert quiet_logs.install(quiet, root) == 2
    quiet_logs.install(quiet, root)
    assert first.filters == [quiet] and second.filters == [quiet]
