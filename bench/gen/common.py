"""Shared bits of the generator processes: config in, result out, own CPU, id allocation."""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg

from contracts.ids import RESERVE_IDS_SQL
from contracts.records import encode_command


def read_config() -> dict[str, Any]:
    """The JSON config the harness passed as the only argument."""
    config: dict[str, Any] = json.loads(sys.argv[1])
    return config


def emit(result: dict[str, Any]) -> None:
    """Print the result as one JSON line, with this process's own CPU use."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["self_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def pg_conninfo(pg: dict[str, Any]) -> str:
    """A libpq connection string from the harness's PostgreSQL settings."""
    return psycopg.conninfo.make_conninfo(
        host=pg["host"], port=pg["port"], dbname=pg["db"], user=pg["user"], password=pg["password"]
    )


class IdBlocks:
    """Todo ids taken from the `todos` sequence a block at a time, as the write API takes them."""

    def __init__(self, pg: dict[str, Any], block: int = 2000) -> None:
        self._conn = psycopg.connect(pg_conninfo(pg), autocommit=True)
        self._block = block
        self._ids: list[int] = []
        self._lock = threading.Lock()

    def next(self) -> int:
        """The next unused id."""
        with self._lock:
            if not self._ids:
                rows = self._conn.execute(RESERVE_IDS_SQL, (self._block,)).fetchall()
                self._ids = [int(r[0]) for r in reversed(rows)]
            return self._ids.pop()

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def create_command(todo_id: int, title: str, owner_id: int) -> bytes:
    """A `create` command for `todo_id` on behalf of `owner_id`, in the contracts' format."""
    return encode_command(
        command_id=uuid.uuid4(),
        todo_id=todo_id,
        operation="create",
        data={"title": title, "description": "bench", "completed": False},
        timestamp=datetime.now(UTC),
        owner_id=owner_id,
    )


def now() -> float:
    """Monotonic seconds."""
    return time.monotonic()
