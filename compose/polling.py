"""Wait for a condition by polling it until a deadline: the one loop of compose, debezium, bench."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import tenacity

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.25,
    what: str,
    ignore: tuple[type[Exception], ...] = (),
) -> T:
    """Call `condition` every `interval` s until it returns something truthy; return that.

    An exception of a type in `ignore` counts as "not yet"; any other propagates at once, so a
    condition gives up early by raising. After `timeout` s (and one last call at the deadline)
    raise TimeoutError naming `what` and the last ignored error.
    """
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(timeout),
        wait=tenacity.wait_fixed(interval),
        retry=tenacity.retry_if_not_result(bool) | tenacity.retry_if_exception_type(ignore),
    )
    try:
        # Only a truthy result ends the retrying, so it is a T, not None.
        result = cast(T, retrying(condition))
    except tenacity.RetryError as exc:
        last = exc.last_attempt
        detail = f" (last error: {last.exception()!r})" if last.failed else ""
        raise TimeoutError(f"{what}: not within {timeout:g}s{detail}") from None
    return result
