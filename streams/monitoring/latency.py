"""Which change events give a write-to-readable or a capture-delay sample, and its value.

Times are seconds since the epoch (floats): these run once per change event, and float
arithmetic costs a fraction of datetime arithmetic.
"""

from __future__ import annotations

from contracts.records import ChangeEvent

# A row whose updated_at is older than its change by more than this was not written by a
# command just now (e.g. an edit in psql that leaves updated_at alone): no sample.
MAX_COMMAND_AGE_SECONDS = 300.0


def change_time(change: ChangeEvent) -> float | None:
    """Return when PostgreSQL committed the change (source.ts_ms), if Debezium said."""
    return None if change.source_ts_ms is None else change.source_ts_ms / 1000


def write_to_readable(change: ChangeEvent, now: float) -> float | None:
    """Seconds from the command (the row's updated_at) to `now`; None when not a sample.

    Samples are creates and updates streamed live: a snapshot row (`r`) or a delete carries
    no command time, and a row whose updated_at lags its change by more than
    MAX_COMMAND_AGE_SECONDS did not come from a command of this moment.
    """
    if change.op not in ("c", "u") or change.after is None:
        return None
    updated = change.after.updated_at
    if updated is None:
        return None
    written = updated.timestamp()
    committed = change_time(change)
    if (now if committed is None else committed) - written > MAX_COMMAND_AGE_SECONDS:
        return None
    # One clock on one machine in the usual deployment; a skewed one must not go negative.
    return max(0.0, now - written)


def capture_delay(change: ChangeEvent, now: float) -> float | None:
    """Seconds from the change's commit to `now`; None for a snapshot row or without ts_ms."""
    committed = change_time(change)
    if change.op == "r" or committed is None:
        return None
    return max(0.0, now - committed)
