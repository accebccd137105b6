"""The write API's view of a dependency: one log line when it goes away, one when it is back."""

import logging

import pytest

from cud_api.core.dependency_link import DependencyLink


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_repeated_errors_log_one_line_and_the_return_logs_the_outage_length(caplog):
    clock = Clock()
    link = DependencyLink("Kafka", clock)
    with caplog.at_level(logging.INFO, logger="cud_api.dependencies"):
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
    link = DependencyLink("Kafka", Clock())
    with caplog.at_level(logging.INFO, logger="cud_api.dependencies"):
        assert link.answered() is None
    assert caplog.records == []


def test_a_second_outage_is_told_again():
    clock = Clock()
    link = DependencyLink("Kafka", clock)
    assert link.failed("down")
    clock.now += 3
    assert link.answered() == pytest.approx(3.0)
    assert link.failed("down again")
    clock.now += 7
    assert link.answered() == pytest.approx(7.0)


def test_postgres_errors_log_one_line_until_a_new_connection_is_made(caplog, monkeypatch):
    from django.db import OperationalError, connection
    from django.db.backends.signals import connection_created

    from cud_api.core import dependency_link
    from cud_api.core.exception_handlers import envelope_exception_handler

    monkeypatch.setattr(dependency_link, "POSTGRES", DependencyLink("PostgreSQL"))
    with caplog.at_level(logging.INFO):
        for _ in range(20):
            response = envelope_exception_handler(OperationalError("refused"), {"view": None})
            assert response.status_code == 503
        connection_created.send(sender=type(connection), connection=connection)
    lines = [r.getMessage() for r in caplog.records if r.name == "cud_api.dependencies"]
    assert lines[0] == "PostgreSQL unreachable from the write API: refused"
    assert lines[1].startswith("PostgreSQL reachable again from the write API after ")
    assert len(lines) == 2
    assert not any("PostgreSQL error" in r.getMessage() for r in caplog.records)


def test_django_request_lines_for_503_are_dropped_and_500_kept():
    from cud_api.core.log_filters import SkipServiceUnavailable

    def record(status: int) -> logging.LogRecord:
        entry = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", None, None)
        entry.status_code = status
        return entry

    keep = SkipServiceUnavailable().filter
    assert not keep(record(503))
    assert keep(record(500))
    assert keep(logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", None, None))


class Probe:
    """A probe that answers what it is told and counts its calls."""

    def __init__(self, error: object | None = "Connection refused") -> None:
        self.error, self.calls = error, 0

    def __call__(self) -> object | None:
        self.calls += 1
        return self.error


def test_a_probe_runs_only_while_down():
    link, probe = DependencyLink("Kafka", Clock()), Probe()
    link.probe_while_down(probe)
    assert probe.calls == 0


def test_while_down_the_probe_runs_at_most_once_a_second():
    clock = Clock()
    link, probe = DependencyLink("Kafka", clock), Probe()
    link.failed("Connection refused")
    for _ in range(20):
        link.probe_while_down(probe)
        clock.now += 0.05
    assert probe.calls == 1
    clock.now += 0.05
    link.probe_while_down(probe)
    assert probe.calls == 2
    assert link.down


def test_a_probe_that_finds_the_dependency_back_logs_the_return(caplog):
    clock = Clock()
    link, probe = DependencyLink("Kafka", clock), Probe(error=None)
    link.failed("Connection refused")
    clock.now += 12.0
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cud_api.dependencies"):
        link.probe_while_down(probe)
    assert not link.down
    assert [r.getMessage() for r in caplog.records] == [
        "Kafka reachable again from the write API after 12.0s"
    ]


class Jitter:
    """A random source whose uniform() answers the given end of its range."""

    def __init__(self, end: str) -> None:
        self.end = end

    def uniform(self, low: float, high: float) -> float:
        return low if self.end == "low" else high


@pytest.mark.parametrize(
    ("down_for", "low", "high"),
    [
        (None, 5, 6),  # up: the base, up to a fifth more
        (10.0, 5, 6),  # a short outage: still the base
        (120.0, 12, 15),  # a tenth of the outage
        (1000.0, 30, 30),  # never more than the most
    ],
)
def test_retry_after_grows_with_the_outage_up_to_the_most(down_for, low, high):
    clock = Clock()
    link = DependencyLink("Kafka", clock)
    if down_for is not None:
        link.failed("Connection refused")
        clock.now += down_for
    assert link.retry_after_s(5, 30, Jitter("low")) == low
    assert link.retry_after_s(5, 30, Jitter("high")) == high
