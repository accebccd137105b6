"""A clock the test moves by hand, for code that takes a `clock` callable."""

from __future__ import annotations


class Clock:
    """A monotonic clock the test moves by hand: read it by calling, move it with `now += s`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
