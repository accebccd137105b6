"""How todo ids are allocated: every writer reserves them from the `todos` id sequence."""

from __future__ import annotations

# One round trip reserves `%s` ids (one nextval per generated row); callers sort them.
RESERVE_IDS_SQL = (
    "SELECT nextval(pg_get_serial_sequence('todos', 'id')) FROM generate_series(1, %s)"
)
