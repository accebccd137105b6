"""Which change events give a write-to-readable or a capture-delay sample, and its value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.records import ChangeEvent

# A row whose updated_at is older than its change by more than this was not written by a
# command just now (e.g. an edit in psql that leaves updated_at alone): no sample.
MAX_COMMAND_AGE = timedelta(minutes=5)


def change_time(change: ChangeEvent) -> datetime | None:
    """Return when PostgreSQL committed the change (source.ts_ms), if Debezium said."""
    if change.source_ts_ms is None:
        return None
    return datetime.fromtimestamp(change.source_ts_ms / 1000, tz=UTC)


def write_to_readable(change: ChangeEvent, now: datetime) -> float | None:
    """Seconds from the command (the row's updated_at) to `now`; None when not a sample.

    Samples are creates and updates streamed live: a snapshot row (`r`) or a delete carries
    no command time, and a row whose updated_at lags its change by more than
    MAX_COMMAND_AGE did not come from a command of this moment.
    """
    if change.op not in ("c", "u") or change.after is None:
        return None
    written = change.after.updated_at
    if written is None:
        return None
    committed = change_time(change) or now
    if committed - written > MAX_COMMAND_AGE:
        return None
    # One clock on one machine in the usual deployment; a skewed one must not go negative.
    return max(0.0, (now - written).total_seconds())


def capture_delay(change: ChangeEvent, now: datetime) -> float | None:
    """Seconds from the change's commit to `now`; None for a snapshot row or without ts_ms."""
    committed = change_time(change)
    if change.op == "r" or committed is None:
        return None
    return max(0.0, (now - committed).total_seconds())
