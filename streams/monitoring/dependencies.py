"""Each dependency's state (up, slow, down) from periodic probes: logged once per change.

A probe either answers, in some time, or fails. Down is two failed probes in a row (one lost
probe is not an outage); slow is SLOW_PROBES answers in a row slower than
DEPENDENCY_SLOW_SECONDS (one slow answer is a spike, not a state); a slow dependency is up again
after as many fast answers.
Each change is one log line; while anything is down or slow, or repeated records were held
back, a summary line every SUMMARY_SECONDS says what and for how long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.limits import DEPENDENCY_SLOW_SECONDS

log = logging.getLogger(__name__)

UP, SLOW, DOWN, UNKNOWN = "up", "slow", "down", "unknown"
# Failed probes in a row that make a dependency down.
DOWN_AFTER = 2
# SLOW_PROBES probes in a row slower than DEPENDENCY_SLOW_SECONDS make the state slow (with
# PROBE_SECONDS = 2 that is about 6 s of sustained slowness).
SLOW_PROBES = 3
SUMMARY_SECONDS = 60.0

Clock = Callable[[], float]
#: Called with a dependency's name when it is up again after being down.
BackListener = Callable[[str], None]


def _wall_text(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M:%S")


@dataclass
class DependencyState:
    """One dependency: its state, since when (monotonic and wall clock), and its last error."""

    name: str
    state: str = UNKNOWN
    since: float = 0.0
    since_wall: float = 0.0
    last_error: str | None = None
    latency_s: float | None = None
    failures: int = 0
    slow_answers: int = 0
    fast_answers: int = 0
    # When the first failed probe of the current run of failures was sent.
    failing_since: float | None = None
    failing_since_wall: float | None = None


class DependencyWatch:
    """The state machine over every dependency's probe results."""

    def __init__(
        self,
        names: Iterable[str],
        *,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        logger: logging.Logger = log,
    ) -> None:
        self._clock, self._wall, self._log = clock, wall, logger
        self.states = {name: DependencyState(name) for name in names}
        self._back_listeners: list[BackListener] = []
        self._held_back: Callable[[], dict[str, int]] = dict
        self._held_in_outage: Callable[[str], int] = lambda name: 0
        self._last_summary: float | None = None

    def on_back(self, listener: BackListener) -> None:
        """Call `listener(name)` whenever a dependency is up again after being down."""
        self._back_listeners.append(listener)

    def count_held_back_with(
        self, take: Callable[[], dict[str, int]], in_outage: Callable[[str], int]
    ) -> None:
        """Count held-back log records: `take()` per dependency since the last call (for the
        summaries), `in_outage(name)` since the dependency was last back (for the back line)."""
        self._held_back, self._held_in_outage = take, in_outage

    def is_down(self, name: str) -> bool:
        """Return whether the dependency is down (an unknown name never is)."""
        state = self.states.get(name)
        return state is not None and state.state == DOWN

    def _enter(self, dep: DependencyState, state: str, since: float, since_wall: float) -> None:
        dep.state, dep.since, dep.since_wall = state, since, since_wall

    def _start_period(self, dep: DependencyState, now: float) -> None:
        # The first summary comes a full period after the first trouble began.
        if all(d.state not in (DOWN, SLOW) for d in self.states.values() if d is not dep):
            self._last_summary = now

    def answered(self, name: str, latency_s: float) -> None:
        """Record a probe that answered in `latency_s` seconds."""
        dep, now = self.states[name], self._clock()
        dep.latency_s = latency_s
        if dep.state == DOWN:
            started = dep.failing_since if dep.failing_since is not None else dep.since
            held = self._held_in_outage(name)
            self._log.info(
                "%s back after %.1f s (down since %s UTC%s)",
                name,
                now - started,
                _wall_text(dep.since_wall),
                f"; {held} repeated log records about it held back" if held else "",
            )
            self._enter(dep, UP, now, self._wall())
            dep.slow_answers = dep.fast_answers = 0
            for listener in self._back_listeners:
                listener(name)
        elif dep.state == UNKNOWN:
            self._enter(dep, UP, now, self._wall())
        dep.failures, dep.failing_since, dep.failing_since_wall = 0, None, None
        if latency_s > DEPENDENCY_SLOW_SECONDS:
            dep.slow_answers, dep.fast_answers = dep.slow_answers + 1, 0
            if dep.state == UP and dep.slow_answers >= SLOW_PROBES:
                self._enter(dep, SLOW, now, self._wall())
                self._log.warning(
                    "%s slow: %d probes in a row took over %.1f s (last %.2f s)",
                    name,
                    dep.slow_answers,
                    DEPENDENCY_SLOW_SECONDS,
                    latency_s,
                )
                self._start_period(dep, now)
        else:
            dep.fast_answers, dep.slow_answers = dep.fast_answers + 1, 0
            if dep.state == SLOW and dep.fast_answers >= SLOW_PROBES:
                self._log.info("%s fast again after %.1f s slow", name, now - dep.since)
                self._enter(dep, UP, now, self._wall())

    def failed(self, name: str, error: str) -> None:
        """Record a probe that failed (refused, timed out, or answered with an error)."""
        dep, now = self.states[name], self._clock()
        dep.last_error, dep.latency_s = error, None
        dep.failures += 1
        if dep.failing_since is None:
            dep.failing_since, dep.failing_since_wall = now, self._wall()
        if dep.state != DOWN and dep.failures >= DOWN_AFTER:
            assert dep.failing_since_wall is not None
            self._enter(dep, DOWN, dep.failing_since, dep.failing_since_wall)
            self._log.warning(
                "%s down: %s (%d probes failed since %s UTC)",
                name,
                error,
                dep.failures,
                _wall_text(dep.since_wall),
            )
            self._start_period(dep, now)

    def summary(self) -> str | None:
        """Log and return the periodic summary when one is due, else None."""
        now = self._clock()
        if self._last_summary is None:
            self._last_summary = now  # the first period starts with the first call
            return None
        if now - self._last_summary < SUMMARY_SECONDS:
            return None
        troubled = [d for d in self.states.values() if d.state in (DOWN, SLOW)]
        held = {name: count for name, count in self._held_back().items() if count}
        period = now - self._last_summary
        self._last_summary = now
        if not troubled and not held:
            return None
        parts = [
            f"{d.name} {d.state} for {now - d.since:.0f} s"
            + (f" ({d.last_error})" if d.state == DOWN and d.last_error else "")
            for d in troubled
        ]
        text = "still " + "; ".join(parts) if parts else "all dependencies up"
        if held:
            counts = ", ".join(f"{name} {count}" for name, count in sorted(held.items()))
            text += (
                f"; {sum(held.values())} repeated log records held back in the last "
                f"{period:.0f} s ({counts})"
            )
        self._log.warning(text) if troubled else self._log.info(text)
        return text

    def report(self) -> dict[str, dict[str, Any]]:
        """Return each dependency's state for /health: state, since (UTC), for how long, error."""
        now = self._clock()
        body: dict[str, dict[str, Any]] = {}
        for name, dep in self.states.items():
            entry: dict[str, Any] = {"state": dep.state}
            if dep.state != UNKNOWN:
                seconds = round(now - dep.since, 1)
                entry["since"] = datetime.fromtimestamp(dep.since_wall, UTC).isoformat(
                    timespec="seconds"
                )
                entry["for_s"] = seconds
                if dep.state == DOWN:
                    entry["down_for_s"] = seconds
                if dep.state == SLOW:
                    entry["slow_for_s"] = seconds
            if dep.latency_s is not None:
                entry["latency_ms"] = round(dep.latency_s * 1000, 1)
            if dep.last_error is not None and dep.state == DOWN:
                entry["last_error"] = dep.last_error
            body[name] = entry
        return body

    def problems(self, needed: Iterable[str]) -> list[str]:
        """Return one phrase per needed dependency that is down."""
        now = self._clock()
        return [
            f"{name} down for {now - self.states[name].since:.0f}s"
            for name in needed
            if self.is_down(name)
        ]

    def warnings(self, needed: Iterable[str]) -> list[str]:
        """Return one phrase per slow dependency, and per down one the service can do without."""
        now, needed = self._clock(), set(needed)
        found = []
        for name, dep in self.states.items():
            if dep.state == SLOW:
                found.append(f"{name} slow for {now - dep.since:.0f}s")
            elif dep.state == DOWN and name not in needed:
                found.append(f"{name} down for {now - dep.since:.0f}s")
        return found


#: What the worker depends on, as /health and the log lines name them.
DEPENDENCIES = ("kafka", "postgres", "mongodb", "kafka_connect")
#: What the read API cannot serve without: /health answers 503 while one is down.
NEEDED_BY_READ_API = ("kafka", "mongodb")

watch = DependencyWatch(DEPENDENCIES)
