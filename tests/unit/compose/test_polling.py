"""compose.polling.wait_until: the first truthy value, a named timeout, and early give-ups."""

from __future__ import annotations

import time

import pytest

from compose.polling import wait_until


def test_returns_the_first_truthy_value_of_the_condition() -> None:
    answers = iter([None, 0, {}, {"state": "RUNNING"}, {"state": "later"}])
    value = wait_until(lambda: next(answers), timeout=5, interval=0, what="connector")
    assert value == {"state": "RUNNING"}
    assert next(answers) == {"state": "later"}  # not called once more after success


def test_a_condition_never_met_raises_timeout_error_naming_what_was_awaited() -> None:
    calls: list[float] = []
    started = time.monotonic()

    with pytest.raises(TimeoutError, match=r"kafka ready: not within 0\.3s"):
        wait_until(
            lambda: calls.append(time.monotonic()), timeout=0.3, interval=0.05, what="kafka ready"
        )

    assert len(calls) >= 3
    assert calls[-1] - started >= 0.3  # one last look at the deadline
    assert time.monotonic() - started < 2


def test_the_condition_is_asked_once_more_at_the_deadline() -> None:
    deadline = time.monotonic() + 0.2
    assert wait_until(lambda: time.monotonic() >= deadline, timeout=0.2, interval=0.05, what="x")


def test_an_ignored_exception_counts_as_not_yet() -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("refused")
        return "up"

    assert wait_until(flaky, timeout=5, interval=0, what="api", ignore=(OSError,)) == "up"
    assert len(attempts) == 3


def test_the_timeout_names_the_last_ignored_error() -> None:
    def refused() -> bool:
        raise ConnectionRefusedError("port 9092")

    with pytest.raises(
        TimeoutError, match=r"broker: not within .*ConnectionRefusedError\('port 9092'\)"
    ):
        wait_until(refused, timeout=0.1, interval=0.02, what="broker", ignore=(OSError,))


def test_any_other_exception_gives_up_at_once() -> None:
    attempts: list[int] = []

    def failed() -> bool:
        attempts.append(1)
        raise RuntimeError("connector FAILED")

    with pytest.raises(RuntimeError, match="connector FAILED"):
        wait_until(failed, timeout=5, interval=0, what="connector", ignore=(OSError,))
    assert attempts == [1]
