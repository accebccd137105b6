"""Kafka Connect's connectors and tasks, from its REST API, as gauges and for /health."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from debezium.connector import connector_name
from streams.monitoring import metrics

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
REQUEST_SECONDS = 3.0
# The state a known or expected connector is shown in while Connect does not answer.
UNREACHABLE = "UNREACHABLE"
# The state of an expected connector that a reachable Connect does not have.
MISSING = "MISSING"


@dataclass(frozen=True)
class ConnectorState:
    """One connector's state and its tasks' states (by task id)."""

    state: str
    tasks: dict[int, str] = field(default_factory=dict)


@dataclass
class ConnectStatus:
    """What the last poll of Kafka Connect found."""

    # The connectors the pipeline needs: shown even before Connect has ever answered.
    expected: tuple[str, ...] = ()
    polled: bool = False
    reachable: bool = False
    error: str | None = None
    connectors: dict[str, ConnectorState] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        """Return the JSON form /health shows."""
        if not self.polled:
            return {"state": "not polled yet"}
        body: dict[str, Any] = {
            "state": "reachable" if self.reachable else "unreachable",
            "connectors": {
                name: {"state": c.state, "tasks": {str(t): s for t, s in c.tasks.items()}}
                for name, c in sorted(self.connectors.items())
            },
        }
        if self.error:
            body["error"] = self.error
        return body

    def problem(self) -> str | None:
        """Return what is wrong with Connect in a few words, or None when all runs."""
        if not self.polled:
            return None
        if not self.reachable:
            return "kafka_connect: unreachable"
        if not self.connectors:
            return "kafka_connect: no connector registered"
        bad = sorted(
            name
            for name, c in self.connectors.items()
            if c.state != "RUNNING" or any(s != "RUNNING" for s in c.tasks.values())
        )
        return f"kafka_connect: not running: {', '.join(bad)}" if bad else None


def parse_statuses(body: object) -> dict[str, ConnectorState]:
    """Parse `GET /connectors?expand=status`; a malformed entry is skipped, not fatal."""
    found: dict[str, ConnectorState] = {}
    if not isinstance(body, dict):
        raise ValueError("Kafka Connect's answer is not a JSON object")
    for name, entry in body.items():
        status = entry.get("status") if isinstance(entry, dict) else None
        if not isinstance(status, dict) or not isinstance(status.get("connector"), dict):
            continue
        tasks: dict[int, str] = {}
        for task in status.get("tasks") or []:
            if isinstance(task, dict) and isinstance(task.get("id"), int):
                tasks[task["id"]] = str(task.get("state", "UNKNOWN"))
        found[str(name)] = ConnectorState(str(status["connector"].get("state", "UNKNOWN")), tasks)
    return found


def unreachable(
    previous: dict[str, ConnectorState], expected: tuple[str, ...] = ()
) -> dict[str, ConnectorState]:
    """Return the known and the expected connectors and tasks, each now in state UNREACHABLE."""
    found = {name: ConnectorState(UNREACHABLE) for name in expected}
    for name, c in previous.items():
        found[name] = ConnectorState(UNREACHABLE, {t: UNREACHABLE for t in c.tasks})
    return found


def with_missing(
    connectors: dict[str, ConnectorState], expected: tuple[str, ...]
) -> dict[str, ConnectorState]:
    """Return the connectors Connect reported plus each expected one it lacks, as MISSING."""
    return {**{name: ConnectorState(MISSING) for name in expected}, **connectors}


def set_gauges(status: ConnectStatus) -> None:
    """Publish the status: one series per connector and task, labelled with its state."""
    metrics.CONNECT_REACHABLE.set(1 if status.reachable else 0)
    # Cleared first so that a state left behind (RUNNING before a failure) is not kept at 1.
    metrics.CONNECT_CONNECTOR_STATE.clear()
    metrics.CONNECT_TASK_STATE.clear()
    for name, connector in status.connectors.items():
        metrics.CONNECT_CONNECTOR_STATE.labels(connector=name, state=connector.state).set(1)
        for task, state in connector.tasks.items():
            metrics.CONNECT_TASK_STATE.labels(connector=name, task=str(task), state=state).set(1)


Fetch = Callable[[str], Awaitable[object]]


async def fetch_json(url: str) -> object:
    """GET a URL and return its JSON body; an HTTP error status raises."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        response.raise_for_status()
        return await response.json()


async def poll(base_url: str, status: ConnectStatus, fetch: Fetch = fetch_json) -> None:
    """Ask Connect for every connector's status and update `status` and the gauges."""
    try:
        body = await fetch(f"{base_url.rstrip('/')}/connectors?expand=status")
        connectors = parse_statuses(body)
    except Exception as exc:  # unreachable, an error status or a bad body: all say "down"
        if status.reachable or not status.polled:
            log.warning("Kafka Connect at %s does not answer: %r", base_url, exc)
        status.reachable, status.error = False, type(exc).__name__
        status.connectors = unreachable(status.connectors, status.expected)
    else:
        status.reachable, status.error = True, None
        status.connectors = with_missing(connectors, status.expected)
    status.polled = True
    set_gauges(status)


connect_status = ConnectStatus(expected=(connector_name(),))
