"""A log filter that lets the first record of each kind about an unreachable dependency through
and holds back its repeats, counting them for the dependency watch's summary.

A record is "about a dependency being unreachable" when a rule matches both its logger and its
message: aiokafka's and Faust's transport's connection, metadata, fetch and coordinator errors
for Kafka, the PostgreSQL pool's and the pipeline's retry lines for PostgreSQL and MongoDB.
Every other record passes untouched. A kind (the logger and the message's template) passes
again once its dependency is back (the watch says so), or, while the watch sees the dependency
up, once every REPEAT_SECONDS. Those that pass are shown as WARNING at most: their clients retry,
and the watch's own line says when a dependency is down.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from streams.monitoring import dependencies

# While the watch sees the dependency up, a kind passes at most once per this many seconds.
REPEAT_SECONDS = 60.0


@dataclass(frozen=True)
class Rule:
    """Records of `dependency`: loggers under one of `loggers` whose message matches `pattern`."""

    dependency: str
    loggers: tuple[str, ...]
    pattern: re.Pattern[str]


_KAFKA_UNREACHABLE = re.compile(
    r"unable (to )?connect|unable to (update|request) metadata|connect call failed"
    r"|connection (refused|reset|error|lost|closed|failed)|KafkaConnectionError|NodeNotReady"
    r"|RequestTimedOut|timed out|timeout|heartbeat send request failed|heartbeat session expired"
    r"|coordinator (dead|not available)|(group coordinator|findcoordinator) request failed"
    r"|cannot send|could not send|failed fetch (messages|offsets)|broker not available"
    r"|errno 111|no route to host|unreachable"
    # Faust's per-partition checks, when it is the broker that stopped answering fetches.
    r"|broker stopped responding|has not received fetch response",
    re.IGNORECASE,
)

RULES: tuple[Rule, ...] = (
    Rule("kafka", ("aiokafka", "faust.transport", "kafka"), _KAFKA_UNREACHABLE),
    Rule(
        "postgres",
        ("psycopg.pool",),
        re.compile(r"error connecting|broken connection|closed connection|reconnect", re.I),
    ),
    Rule(
        "postgres",
        ("streams.agents.pipeline",),
        re.compile(r"^PostgreSQL write of \d+ failed, retrying", re.I),
    ),
    Rule(
        "mongodb",
        ("streams.agents.pipeline",),
        re.compile(r"^MongoDB write of \d+ failed, retrying", re.I),
    ),
    Rule(
        "mongodb",
        ("pymongo", "web_read.api_view"),
        re.compile(r"unavailable|AutoReconnect|ServerSelectionTimeout|connection refused", re.I),
    ),
)

_NUMBERS = re.compile(r"\d+")


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def classify(record: logging.LogRecord, rules: tuple[Rule, ...] = RULES) -> str | None:
    """Return the dependency a WARNING-or-worse record says is unreachable, or None."""
    if record.levelno < logging.WARNING:
        return None
    message: str | None = None
    for rule in rules:
        if not _under(record.name, rule.loggers):
            continue
        if message is None:
            try:
                message = record.getMessage()
            except Exception:  # a record that cannot be formatted is shown as it is
                return None
        if rule.pattern.search(message):
            return rule.dependency
    return None


def kind_of(record: logging.LogRecord) -> str:
    """Return the record's kind: its logger and message template, numbers left out."""
    return f"{record.name}|{_NUMBERS.sub('#', str(record.msg))[:120]}"


class QuietDependencyLogs(logging.Filter):
    """Hold back repeated records about unreachable dependencies (see the module's doc)."""

    def __init__(
        self,
        is_down: Callable[[str], bool],
        *,
        clock: Callable[[], float] = time.monotonic,
        rules: tuple[Rule, ...] = RULES,
    ) -> None:
        super().__init__()
        self._is_down, self._clock, self._rules = is_down, clock, rules
        # kind -> when its last record passed
        self._passed: dict[str, float] = {}
        self._kinds: dict[str, str] = {}  # kind -> dependency
        self._held: Counter[str] = Counter()  # since the last take_held_back()
        self._held_in_outage: Counter[str] = Counter()  # since the dependency was last back

    def filter(self, record: logging.LogRecord) -> bool:
        """Return whether the record is shown."""
        # Several handlers ask about the same record: decide once, count once.
        decided = getattr(record, "_quiet_shown", None)
        if decided is not None:
            return bool(decided)
        shown = self._decide(record)
        record._quiet_shown = shown
        return shown

    def _decide(self, record: logging.LogRecord) -> bool:
        dependency = classify(record, self._rules)
        if dependency is None:
            return True
        kind, now = kind_of(record), self._clock()
        passed = self._passed.get(kind)
        if passed is None or (not self._is_down(dependency) and now - passed >= REPEAT_SECONDS):
            self._passed[kind], self._kinds[kind] = now, dependency
            _as_warning(record)
            return True
        self._held[dependency] += 1
        self._held_in_outage[dependency] += 1
        return False

    def forget(self, dependency: str) -> None:
        """Let each kind of the dependency's records through again (it is back)."""
        for kind in [k for k, d in self._kinds.items() if d == dependency]:
            del self._passed[kind], self._kinds[kind]
        self._held_in_outage.pop(dependency, None)

    def held_in_outage(self, dependency: str) -> int:
        """Return how many of the dependency's records were held back since it was last back."""
        return self._held_in_outage[dependency]

    def take_held_back(self) -> dict[str, int]:
        """Return how many records were held back per dependency since the last call."""
        held, self._held = dict(self._held), Counter()
        return held


def _as_warning(record: logging.LogRecord) -> None:
    """Lower an unreachable-dependency record to WARNING at most."""
    # Its client retries; the dependency watch, not a client's first failure, says "outage".
    if record.levelno > logging.WARNING:
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)


def install(quiet: QuietDependencyLogs, root: logging.Logger | None = None) -> int:
    """Add the filter to every handler of the root logger (once); return how many got it."""
    handlers = (root or logging.getLogger()).handlers
    for handler in handlers:
        if quiet not in handler.filters:
            handler.addFilter(quiet)
    return len(handlers)


#: The worker's filter, told by the worker's dependency watch when a dependency is down or back.
quiet = QuietDependencyLogs(dependencies.watch.is_down)
dependencies.watch.on_back(quiet.forget)
dependencies.watch.count_held_back_with(quiet.take_held_back, quiet.held_in_outage)
