"""Who a valid token belongs to: the user row, remembered a few seconds per process."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.contrib.auth.models import User

# Beyond this many remembered users the memory is emptied (and refilled as requests come).
_MAX_ENTRIES = 10_000


class UserCache:
    """User rows by id for `ttl` seconds (0: read the row on every call); misses cached too.

    The write path serves a user's burst of requests with one SELECT per `ttl`; the price is
    that a user deactivated or deleted is refused up to `ttl` seconds later.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[int, tuple[float, User | None]] = {}
        self._lock = threading.Lock()

    def get(self, user_id: int) -> User | None:
        """Return the user with this id, or None if there is none."""
        now = time.monotonic()
        entry = self._entries.get(user_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        user = User.objects.filter(pk=user_id).first()
        if self.ttl > 0:
            with self._lock:
                if len(self._entries) >= _MAX_ENTRIES:
                    self._entries.clear()
                self._entries[user_id] = (now + self.ttl, user)
        return user


users = UserCache(settings.CUD_API_USER_CACHE_SECONDS)
