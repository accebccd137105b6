"""Wait for a condition by polling it until a deadline: never a fixed sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from compose.polling import wait_until

T = TypeVar("T")


class ConditionTimeout(AssertionError):  # noqa: N818 - reads as the condition timing out
    """The condition did not hold before the deadline."""


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    message: str = "condition",
) -> T:
    """Call `probe` until it returns a truthy value, and return that value."""
    # The launcher's own loop; a probe may fail until the service is ready, so any error waits.
    try:
        return wait_until(
            probe, timeout=timeout, interval=interval, what=message, ignore=(Exception,)
        )
    except TimeoutError as exc:
        raise ConditionTimeout(str(exc)) from None


async def async_wait_for(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    message: str = "condition",
) -> T:
    """Await `probe` until it returns a truthy value, and return that value."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = await probe()
        except Exception as exc:  # the probe may fail until the service is ready
            value, last = None, exc
        if value:
            return value
        if time.monotonic() >= deadline:
            raise ConditionTimeout(f"{message} not met within {timeout}s (last error: {last!r})")
        await asyncio.sleep(interval)
