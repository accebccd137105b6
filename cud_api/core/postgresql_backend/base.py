"""Django's PostgreSQL backend whose per-request health check costs no round trip.

With CONN_HEALTH_CHECKS, Django runs `SELECT 1` before the first query of every request on a
reused connection: a whole round trip per request. An idle connection has nothing to read
unless the server closed it or sent its termination notice (a restart, a killed backend), so
a socket readable while idle is the same verdict without asking the server. A connection the
check cannot judge (not idle, no socket) is asked with Django's own `SELECT 1`.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    """The stock wrapper with the socket-based `is_usable`."""

    def is_usable(self) -> bool:
        """Return False if the server closed the idle connection or said it will."""
        conn = self.connection
        if conn is None or conn.closed:
            return False
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            return bool(super().is_usable())
        try:
            readable, _, _ = select.select([conn.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
