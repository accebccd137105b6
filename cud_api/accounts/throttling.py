"""Throttle failed sign-ins per (client address, username), counting failures only."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import caches
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class LoginFailureThrottle(SimpleRateThrottle):
    """Refuse sign-ins (429) once a client failed `CUD_API_LOGIN_FAILURES_RATE` for a username.

    DRF counts every request it lets through; here a request is only checked against the
    history, and the view calls `record_failure` when the password was wrong, so users who
    sign in successfully are never throttled. The history lives in the shared cache
    (PostgreSQL), so every gunicorn worker sees the same count.
    """

    scope = "login_failures"
    duration: int

    def __init__(self) -> None:
        self.cache = caches[settings.LOGIN_THROTTLE_CACHE]
        super().__init__()

    def get_rate(self) -> str:
        """The allowed failures per period, e.g. `5/min`."""
        return str(settings.CUD_API_LOGIN_FAILURES_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str:
        """Key by client address and the username tried (hashed: any text, fixed length)."""
        data = request.data
        username = data.get("username") if isinstance(data, dict) else None
        ident = f"{self.get_ident(request)}\0{username}"
        digest = hashlib.sha256(ident.encode("utf-8", "replace")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}

    def throttle_success(self) -> bool:
        """Let the request through without counting it (only failures count)."""
        return True

    def record_failure(self) -> None:
        """Count one failed sign-in for the key `allow_request` computed."""
        # Read again: the password check took a while and another worker may have counted.
        now = self.timer()
        history = [t for t in self.cache.get(self.key, []) if t > now - self.duration]
        history.insert(0, now)
        self.cache.set(self.key, history, self.duration)
