"""When each written todo became readable, from the worker's table changelog (pure functions).

The CDC agent stores a todo's projection in the `todos` table, which is what `GET
/api/todos/{id}/` reads, and that store write produces one changelog record: its Kafka
timestamp (CreateTime, ms, stamped by the worker's producer just after the write) is the moment
the todo became readable by id. Matching those against each 202's wall-clock time (the same
machine's clock) gives 202 -> readable without a single request to the system under test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson

from contracts.records import DecodeError, decode_todo_key


def changelog_topic(app_id: str, table: str = "todos") -> str:
    """Return the changelog topic Faust names for `table` of the app `app_id`."""
    return f"{app_id}-{table}-changelog"


def readable_id(key: bytes | None, value: bytes | None) -> int | None:
    """Return the todo id a changelog record makes readable, or None (a tombstone, a delete)."""
    if key is None or value is None:
        return None
    try:
        todo_id = decode_todo_key(key)
        state = orjson.loads(value)
    except (DecodeError, orjson.JSONDecodeError, ValueError):
        return None
    # The projection's state: {"todo": {...} or None once deleted, "position": ...}.
    if todo_id is None or not isinstance(state, dict) or state.get("todo") is None:
        return None
    return todo_id


@dataclass
class FirstReadable:
    """The earliest changelog timestamp (ms) at which each todo id was readable."""

    at_ms: dict[int, int] = field(default_factory=dict)
    records: int = 0

    def add(self, key: bytes | None, value: bytes | None, timestamp_ms: int) -> None:
        """Account for one changelog record."""
        self.records += 1
        todo_id = readable_id(key, value)
        if todo_id is None:
            return
        seen = self.at_ms.get(todo_id)
        if seen is None or timestamp_ms < seen:
            self.at_ms[todo_id] = timestamp_ms


@dataclass(frozen=True)
class Matched:
    """202 -> readable latencies of the writes found, and the ids never seen readable."""

    latencies_s: list[float]
    missing: list[int]
    negative: int  # readable before the 202 reached the client (ms stamps, clock reads)


def match(accepted_at_s: Mapping[int, float], readable_at_ms: Mapping[int, int]) -> Matched:
    """Pair each accepted write (id -> 202's wall-clock s) with its first readable time."""
    latencies: list[float] = []
    missing: list[int] = []
    negative = 0
    for todo_id, t_202 in accepted_at_s.items():
        at = readable_at_ms.get(todo_id)
        if at is None:
            missing.append(todo_id)
            continue
        latency = at / 1000.0 - t_202
        if latency < 0:
            negative += 1
        latencies.append(latency)
    return Matched(latencies_s=latencies, missing=sorted(missing), negative=negative)


def all_seen(ids: Iterable[int], readable_at_ms: Mapping[int, int]) -> bool:
    """Whether every id in `ids` has been seen readable."""
    return all(todo_id in readable_at_ms for todo_id in ids)
