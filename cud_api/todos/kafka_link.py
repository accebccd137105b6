"""Whether this process reaches Kafka, told in the log once per change, not once per attempt.

librdkafka reports the same connection error on every reconnect attempt (through `error_cb`)
while the broker is away; the operator needs two lines: when it went away and when it came
back, with how long it was gone. Any successful delivery or metadata answer means "back".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("cud_api.todos.kafka")


class KafkaLink:
    """Up or down, with the moment it went down; thread-safe (librdkafka's threads call it)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None

    @property
    def down(self) -> bool:
        """Whether the last news was an error."""
        return self._down_since is not None

    def failed(self, error: object) -> bool:
        """Note an error; log it (and return True) only when Kafka was up until now."""
        with self._lock:
            if self._down_since is not None:
                return False
            self._down_since = self._clock()
        logger.warning("Kafka unreachable from the write API: %s", error)
        return True

    def answered(self) -> float | None:
        """Note a success; log and return the outage's length when Kafka was down."""
        with self._lock:
            if self._down_since is None:
                return None
            lasted = self._clock() - self._down_since
            self._down_since = None
        logger.info("Kafka reachable again from the write API after %.1fs", lasted)
        return lasted
