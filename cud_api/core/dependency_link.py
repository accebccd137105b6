"""This process's view of each dependency: up, slow or down, since when; each change logged once.

While Kafka or PostgreSQL is away every request (and librdkafka's every reconnect attempt)
meets the same error; the operator needs two lines: when it went away and when it came back,
with how long it was gone. Any successful answer of the dependency means "back"; `/health/`
checks also say how long the answer took, which makes a sustained slowness "slow".

While a dependency is down, requests are refused at once rather than each waiting out a
timeout against it, and one background thread probes it (`probe_while_down`) to tell when it
is back: every request thread stays free to answer 503 and gunicorn's queue does not grow.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from contracts.limits import DEPENDENCY_SLOW_SECONDS

logger = logging.getLogger("cud_api.dependencies")

# SLOW_CHECKS checks in a row slower than DEPENDENCY_SLOW_SECONDS (not one spike) make the
# dependency "slow", a warning beside "up".
SLOW_CHECKS = 2
# While down, a probe at most this often (from the end of the last one).
PROBE_EVERY_S = 1.0
# Retry-After grows by this share of how long the dependency has been down, plus up to
# RETRY_JITTER more at random.
RETRY_AFTER_SHARE = 0.1
RETRY_JITTER = 0.2


class DependencyLink:
    """Up, slow or down, with the moment that began; thread-safe (librdkafka's threads call it)."""

    def __init__(
        self,
        name: str,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._clock, self._wall = clock, wall
        self._lock = threading.Lock()
        self._state = "up"
        self._since = clock()
        self._since_wall = wall()
        self._slow_checks = 0
        self._probed_at = float("-inf")

    @property
    def down(self) -> bool:
        """Whether the last news was an error."""
        return self._state == "down"

    def _enter(self, state: str) -> float:
        """Switch to `state`; return how long the previous state lasted (lock held)."""
        now = self._clock()
        lasted = now - self._since
        self._state, self._since, self._since_wall = state, now, self._wall()
        return lasted

    def failed(self, error: object) -> bool:
        """Note an error; log it (and return True) only when the dependency was not down."""
        with self._lock:
            if self._state == "down":
                return False
            self._enter("down")
            self._slow_checks = 0
        logger.warning("%s unreachable from the write API: %s", self.name, error)
        return True

    def answered(self, latency_s: float | None = None) -> float | None:
        """Note a success (that took `latency_s`, if timed); return the outage length if down."""
        with self._lock:
            if latency_s is not None:
                slow_check = latency_s > DEPENDENCY_SLOW_SECONDS
                self._slow_checks = self._slow_checks + 1 if slow_check else 0
            slow = self._slow_checks >= SLOW_CHECKS
            state = "slow" if slow else "up"
            previous = self._state
            if previous == state:
                return None
            lasted = self._enter(state)
        if previous == "down":
            logger.info("%s reachable again from the write API after %.1fs", self.name, lasted)
            return lasted
        if state == "slow":
            logger.warning(
                "%s slow from the write API: %.0f ms", self.name, (latency_s or 0) * 1000
            )
        else:
            logger.info("%s fast again from the write API after %.1fs slow", self.name, lasted)
        return None

    def probe_while_down(self, check: Callable[[], object | None]) -> None:
        """While down, at most every PROBE_EVERY_S: run `check` (an error, or None when the
        dependency answered) and note its verdict; up, it does nothing."""
        if not self.down or self._clock() - self._probed_at < PROBE_EVERY_S:
            return
        error = check()
        self._probed_at = self._clock()
        if error is None:
            self.answered()
        else:
            self.failed(error)

    def retry_after_s(self, base_s: int, most_s: int, rng: random.Random | None = None) -> int:
        """Seconds a refused client is asked to wait (Retry-After).

        `base_s`, or a tenth of how long the dependency has been down when that is longer, at
        most `most_s`; up to a fifth more at random, so the writes a long outage held back do
        not all come back in the same second.
        """
        with self._lock:
            down_for = self._clock() - self._since if self._state == "down" else 0.0
        wait = min(float(most_s), max(float(base_s), down_for * RETRY_AFTER_SHARE))
        jitter = (rng or random).uniform(1.0, 1.0 + RETRY_JITTER)
        return max(1, min(most_s, math.ceil(wait * jitter)))

    def snapshot(self) -> dict[str, Any]:
        """The state, since when (UTC) and for how long; `down_for_s` too while down."""
        with self._lock:
            state, since, since_wall = self._state, self._since, self._since_wall
        body: dict[str, Any] = {
            "state": state,
            "since": datetime.fromtimestamp(since_wall, UTC).isoformat(timespec="seconds"),
            "for_s": round(self._clock() - since, 1),
        }
        if state == "down":
            body["down_for_s"] = body["for_s"]
        return body


#: This process's view of each dependency.
KAFKA = DependencyLink("Kafka")
POSTGRES = DependencyLink("PostgreSQL")


def link_of(dependency: str) -> DependencyLink | None:
    """The link of a dependency named as in a 503's envelope ("kafka", "postgres")."""
    return {"kafka": KAFKA, "postgres": POSTGRES}.get(dependency)
