"""Readiness of the worker: consumer, MongoDB, table recovery, consumer lag, the users list."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import AppT

from streams import users
from streams.read_model import ReadModel

MONGO_PING_SECONDS = 2.0


def consumer_status(app: AppT) -> tuple[bool, dict[str, Any]]:
    """Return whether the consumer holds partitions and is not rebalancing, with details."""
    if app.rebalancing:
        return False, {"state": "rebalancing"}
    assignment = app.consumer.assignment()
    if not assignment:
        return False, {"state": "no partitions assigned"}
    return True, {"state": "consuming", "partitions": len(assignment)}


def recovery_status(app: AppT) -> tuple[bool, dict[str, Any]]:
    """Return whether table recovery has completed."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    done = recovery.completed.is_set() and not recovery.in_recovery
    return done, {"state": "recovered" if done else "recovering"}


def consumer_lag(app: AppT) -> dict[str, int]:
    """Return records not yet committed, per assigned source partition (best effort)."""
    consumer = app.consumer
    # Faust has no public accessor for its last committed offsets; this mapping is what
    # its own commit logic reads.
    committed = getattr(consumer, "_committed_offset", {})
    lag: dict[str, int] = {}
    for tp in sorted(consumer.assignment()):
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # no fetch yet for this partition: no figure to give
            highwater = None
        if highwater is None:
            continue
        done = committed.get(tp)
        lag[f"{tp.topic}[{tp.partition}]"] = max(
            0, highwater - (done + 1 if done is not None else 0)
        )
    return lag


async def mongo_status(read_model: ReadModel) -> tuple[bool, dict[str, Any]]:
    """Return whether MongoDB answers a ping in time."""
    try:
        await asyncio.wait_for(read_model.ping(), MONGO_PING_SECONDS)
    except Exception as exc:  # any failure means not ready
        return False, {"state": "unreachable", "error": type(exc).__name__}
    return True, {"state": "ok"}


async def health_report(app: AppT, read_model: ReadModel) -> tuple[bool, dict[str, Any]]:
    """Return (healthy, report); the report names each failing check under `problems`."""
    checks: dict[str, tuple[bool, dict[str, Any]]] = {
        "consumer": consumer_status(app),
        "table_recovery": recovery_status(app),
        "mongodb": await mongo_status(read_model),
    }
    problems = [name for name, (ok, _) in checks.items() if not ok]
    report: dict[str, Any] = {
        "status": "ok" if not problems else "unavailable",
        **{name: details for name, (_, details) in checks.items()},
        "consumer_lag": consumer_lag(app) if checks["consumer"][0] else {},
        # Reported, not a check: a worker whose deny list is still catching up serves on
        # signatures alone, as it does for any user the list has not heard of.
        "users": users.deny_list.status(),
    }
    if problems:
        report["problems"] = problems
    return not problems, report
