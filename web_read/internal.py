"""Who may see the internal pages (metrics, pipeline, topics): loopback callers or staff."""

from __future__ import annotations

import ipaddress
from typing import Any

from streams.app import settings
from web_read.auth import authenticate_caller
from web_read.errors import ForbiddenError


def is_loopback(peer: str | None) -> bool:
    """Whether the peer address is a loopback one (127.0.0.0/8, ::1)."""
    if not peer:
        return False
    try:
        return ipaddress.ip_address(peer.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def require_internal_access(request: Any, *, loopback_allowed: bool | None = None) -> None:
    """Return when the caller may see internal data; else raise a 401 or a 403."""
    allowed = settings.internal_loopback if loopback_allowed is None else loopback_allowed
    # aiohttp's `remote` is the TCP peer: a forwarded-for header cannot claim loopback.
    if allowed and is_loopback(getattr(request, "remote", None)):
        return
    if not authenticate_caller(request.headers).staff:
        raise ForbiddenError("Only a staff user's token may see the pipeline's internals.")
