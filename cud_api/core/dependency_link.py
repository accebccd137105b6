"""Whether this process reaches a dependency, told in the log once per change, not per attempt.

While Kafka or PostgreSQL is away every request (and librdkafka's every reconnect attempt)
meets the same error; the operator needs two lines: when it went away and when it came back,
with how long it was gone. Any successful answer of the dependency means "back".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("cud_api.dependencies")


class DependencyLink:
    """Up or down, with the moment it went down; thread-safe (librdkafka's threads call it)."""

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None

    @property
    def down(self) -> bool:
        """Whether the last news was an error."""
        return self._down_since is not None

    def failed(self, error: object) -> bool:
        """Note an error; log it (and return True) only when the dependency was up until now."""
        with self._lock:
            if self._down_since is not None:
                return False
            self._down_since = self._clock()
        logger.warning("%s unreachable from the write API: %s", self.name, error)
        return True

    def answered(self) -> float | None:
        """Note a success; log and return the outage's length when the dependency was down."""
        with self._lock:
            if self._down_since is None:
                return None
            lasted = self._clock() - self._down_since
            self._down_since = None
        logger.info("%s reachable again from the write API after %.1fs", self.name, lasted)
        return lasted


#: This process's view of each dependency.
KAFKA = DependencyLink("Kafka")
POSTGRES = DependencyLink("PostgreSQL")
