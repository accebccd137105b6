"""Bulk-load one owner's todos straight into PostgreSQL: Debezium captures them like psql's.

Ids come from the table's own sequence (`contracts.ids.RESERVE_IDS_SQL`), as the write API
takes them, so seeded and written todos never collide; rows go in by `COPY`, in chunks, each
chunk its own transaction (Debezium streams them while the next chunk loads). Every count and
sample here is of one owner's todos: the bench user's, whose list the read figures measure.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from contracts.ids import RESERVE_IDS_SQL

log = logging.getLogger("bench")

_COPY = (
    "COPY todos (id, title, description, completed, created_at, updated_at, version, owner_id)"
    " FROM STDIN"
)


@dataclass(frozen=True)
class Seeded:
    """What one bulk load added."""

    rows: int
    first_id: int | None
    last_id: int | None
    seconds: float


def live_count(conninfo: str, owner_id: int) -> int:
    """Return how many todos of `owner_id` PostgreSQL holds."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM todos WHERE owner_id = %s", (owner_id,)).fetchone()
    return int(row[0]) if row else 0


def bulk_load(conninfo: str, rows: int, owner_id: int, *, chunk: int = 20_000) -> Seeded:
    """Insert `rows` todos of `owner_id` by COPY, ids from the sequence; return the id range."""
    start = time.monotonic()
    first: int | None = None
    last: int | None = None
    now = datetime.now(UTC)
    done = 0
    with psycopg.connect(conninfo) as conn:
        while done < rows:
            n = min(chunk, rows - done)
            ids = sorted(int(r[0]) for r in conn.execute(RESERVE_IDS_SQL, (n,)).fetchall())
            with conn.cursor() as cur, cur.copy(_COPY) as copy:
                for todo_id in ids:
                    copy.write_row(
                        (todo_id, f"seed {todo_id}", "bulk-loaded by the benchmark",
                         todo_id % 2 == 0, now, now, 1, owner_id)
                    )  # fmt: skip
            conn.commit()
            first = ids[0] if first is None else first
            last = ids[-1]
            done += n
            log.debug("seeded %d/%d", done, rows)
    return Seeded(rows=done, first_id=first, last_id=last, seconds=time.monotonic() - start)


def seed_to(conninfo: str, count: int, owner_id: int) -> Seeded:
    """Make sure PostgreSQL holds at least `count` todos of `owner_id`; return what was added."""
    missing = count - live_count(conninfo, owner_id)
    if missing <= 0:
        return Seeded(rows=0, first_id=None, last_id=None, seconds=0.0)
    return bulk_load(conninfo, missing, owner_id)


def sample_ids(conninfo: str, limit: int, owner_id: int) -> list[int]:
    """Return up to `limit` ids of `owner_id`'s todos, drawn at random."""
    with psycopg.connect(conninfo) as conn:
        total_row = conn.execute(
            "SELECT count(*) FROM todos WHERE owner_id = %s", (owner_id,)
        ).fetchone()
        total = int(total_row[0]) if total_row else 0
        if total == 0:
            return []
        # Row-level sampling: spread over the whole id range; top up when it falls short.
        pct = min(100.0, 100.0 * 3 * limit / total)
        rows = conn.execute(
            "SELECT id FROM todos TABLESAMPLE BERNOULLI (%s) WHERE owner_id = %s LIMIT %s",
            (pct, owner_id, limit),
        ).fetchall()
        if len(rows) < limit:
            rows = conn.execute(
                "SELECT id FROM todos WHERE owner_id = %s ORDER BY random() LIMIT %s",
                (owner_id, limit),
            ).fetchall()
    return [int(r[0]) for r in rows]


def id_range(conninfo: str, owner_id: int) -> tuple[int, int] | None:
    """Return the lowest and highest id of `owner_id`'s todos, or None when there are none."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT min(id), max(id) FROM todos WHERE owner_id = %s", (owner_id,)
        ).fetchone()
    if row is None or row[0] is None:
        return None
    return int(row[0]), int(row[1])


def all_ids(conninfo: str, owner_id: int) -> list[int]:
    """Return every id of `owner_id`'s todos, in order (the walk's expected answer)."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT id FROM todos WHERE owner_id = %s ORDER BY id", (owner_id,))
        return [int(r[0]) for r in rows]
