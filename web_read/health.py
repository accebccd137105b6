"""Readiness of the worker: consumer, MongoDB, table recovery, lag and stalls, Connect, users,
and each dependency's state (up, slow, down) and since when."""

from __future__ import annotations

from typing import Any

from faust.types import AppT

from streams import users
from streams.monitoring import connect, dependencies, lag, probes
from streams.read_model import ReadModel


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


def pipeline_lag(app: AppT) -> tuple[list[lag.PartitionLag], list[lag.PartitionLag]]:
    """Return (partitions of `todos` and the change topic, every other assigned partition).

    Only the first are consumer lag; the others (the table's changelog) are read to recover
    the table, and their committed offset is no measure of being behind.
    """
    return lag.split_pipeline(lag.partition_lags(app.consumer))


async def mongo_status(read_model: ReadModel) -> tuple[bool, dict[str, Any]]:
    """Return whether MongoDB answers, as the worker's probe last saw it."""
    answering, error = await probes.answers(dependencies.watch, "mongodb", read_model.ping)
    if answering:
        return True, {"state": "ok"}
    return False, {"state": "unreachable", "error": error}


async def health_report(app: AppT, read_model: ReadModel) -> tuple[bool, dict[str, Any]]:
    """Return (healthy, report); the report names each failing check under `problems`."""
    checks: dict[str, tuple[bool, dict[str, Any]]] = {
        "consumer": consumer_status(app),
        "table_recovery": recovery_status(app),
        "mongodb": await mongo_status(read_model),
    }
    problems = [name for name, (ok, _) in checks.items() if not ok]
    pipeline, others = pipeline_lag(app) if checks["consumer"][0] else ([], [])
    lags = lag.as_report(pipeline)
    problems.extend(
        f"stalled: {name} lags {lags[name]} and has not moved for {seconds:.0f}s"
        for name, seconds in sorted(lag.stall_watch.observe(pipeline).items())
    )
    report: dict[str, Any] = {
        "status": "ok" if not problems else "unavailable",
        **{name: details for name, (_, details) in checks.items()},
        "consumer_lag": lags,
        "standby_or_changelog": lag.as_report(others),
        # Reported, not a check: the worker serves reads whatever Connect does; a stopped
        # connector shows here and on /metrics as its state, and under `warnings`.
        "kafka_connect": connect.connect_status.report(),
        # Reported, not a check: a worker whose deny list is still catching up serves on
        # signatures alone, as it does for any user the list has not heard of.
        "users": users.deny_list.status(),
    }
    watch = dependencies.watch
    # Each dependency's state from the worker's probes: down ones the read API needs are
    # problems (503), slow ones and down ones it serves without are warnings.
    report["dependencies"] = watch.report()
    problems.extend(watch.problems(dependencies.NEEDED_BY_READ_API))
    # Connect's own poll says what is wrong with it (its duration is under `dependencies`).
    warning = connect.connect_status.problem()
    warnings = [] if warning is None else [warning]
    warnings.extend(
        phrase
        for phrase in watch.warnings(dependencies.NEEDED_BY_READ_API)
        if not phrase.startswith("kafka_connect ")
    )
    if problems:
        report["status"] = "unavailable"
        report["problems"] = problems
    if warnings:
        report["warnings"] = warnings
    return not problems, report
