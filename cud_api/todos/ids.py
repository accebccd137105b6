"""Todo ids from the `todos` sequence, reserved a block at a time per (process, owner).

Each process reserves `size` ids in one round trip and hands them out from memory, so most
creates never touch the database. Blocks are per owner, so one user's todos have dense ids,
which keeps them together in the read model's per-owner buckets. Every id still comes from
the sequence, so an id above its last value was never handed out (the 404 rule); ids increase
per process and owner, not globally.
Why and what it bought: docs/decisions/id-blocks.md.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable

from django.db import OperationalError, connection

from contracts.ids import RESERVE_IDS_SQL


def sequence_reserve(count: int) -> list[int]:
    """Take `count` ids from the `todos` sequence in one round trip, ascending."""
    with connection.cursor() as cursor:
        cursor.execute(RESERVE_IDS_SQL, [count])
        rows = cursor.fetchall()
    return sorted(int(row[0]) for row in rows)


class IdBlockAllocator:
    """Hands out ids reserved from the sequence `size` at a time; safe across threads.

    One thread refills while the others wait for it. If the refill fails, the threads that
    were waiting for it fail with the same error instead of each retrying in turn (a database
    outage stays a quick 503 for all of them, not one connect timeout after another).
    """

    def __init__(self, size: int, reserve: Callable[[int], list[int]] = sequence_reserve) -> None:
        if size < 1:
            raise ValueError("block size must be at least 1")
        self.size = size
        self._reserve = reserve
        self._ids: deque[int] = deque()
        self._pid = os.getpid()
        self._refill_lock = threading.Lock()
        self._refills = 0  # count of finished refill attempts
        self._last_error: Exception | None = None

    def _forget_if_forked(self) -> None:
        # Ids reserved before a fork would be handed out by parent and child alike.
        if self._pid != os.getpid():
            self._ids = deque()
            self._pid = os.getpid()

    def next(self) -> int:
        """Return an id no other caller (in any process) has received."""
        self._forget_if_forked()
        try:
            return self._ids.popleft()  # deque.popleft is atomic
        except IndexError:
            pass
        seen = self._refills
        with self._refill_lock:
            self._forget_if_forked()
            try:
                return self._ids.popleft()  # another thread refilled meanwhile
            except IndexError:
                pass
            if self._refills != seen and self._last_error is not None:
                raise OperationalError(str(self._last_error)) from self._last_error
            try:
                ids = self._reserve(self.size)
            except Exception as exc:
                self._last_error = exc
                raise
            finally:
                self._refills += 1
            self._last_error = None
            self._ids.extend(ids[1:])
            return ids[0]


# Beyond this many owners with a block in memory, the blocks are dropped: their unused ids
# become gaps in the sequence, which is harmless (ids only need to be unique).
MAX_OWNERS = 10_000


class OwnerIdBlocks:
    """One IdBlockAllocator per owner, created on the owner's first create in this process."""

    def __init__(
        self,
        size: int,
        reserve: Callable[[int], list[int]] = sequence_reserve,
        max_owners: int = MAX_OWNERS,
    ) -> None:
        self.size = size
        self._reserve = reserve
        self._max_owners = max_owners
        self._allocators: dict[int, IdBlockAllocator] = {}
        self._lock = threading.Lock()

    def next(self, owner_id: int) -> int:
        """Return an id from this owner's block (no other caller in any process receives it)."""
        allocator = self._allocators.get(owner_id)
        if allocator is None:
            with self._lock:
                allocator = self._allocators.get(owner_id)
                if allocator is None:
                    if len(self._allocators) >= self._max_owners:
                        self._allocators = {}
                    allocator = IdBlockAllocator(self.size, self._reserve)
                    self._allocators[owner_id] = allocator
        return allocator.next()
