"""Who may see the internal pages (metrics, pipeline, topics): loopback callers or staff.

`/metrics` alone also opens to the scrape token (`contracts.auth.ScrapeToken`): a scraper that
is not on loopback, such as Prometheus in a container, cannot hold a staff token that expires.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any

from contracts import auth
from streams.app import settings
from web_read.auth import authenticate_caller
from web_read.errors import ForbiddenError

_scrape_token: auth.ScrapeToken | None = None


def is_loopback(peer: str | None) -> bool:
    """Whether the peer address is a loopback one (127.0.0.0/8, ::1)."""
    if not peer:
        return False
    try:
        return ipaddress.ip_address(peer.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def scrape_token(env: Mapping[str, str] = os.environ) -> auth.ScrapeToken:
    """Return this process's scrape token, from METRICS_SCRAPE_TOKEN_FILE on first use."""
    global _scrape_token
    if _scrape_token is None:
        _scrape_token = auth.scrape_token_from_env(env)
    return _scrape_token


def presents_scrape_token(headers: Mapping[str, str]) -> bool:
    """Whether the request's `Authorization: Bearer <secret>` carries the scrape token."""
    scheme, _, credentials = (headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return False
    # A file of a few bytes, read at most every few seconds (as the verifying keys are).
    return scrape_token().accepts(credentials.strip())


def require_internal_access(
    request: Any, *, loopback_allowed: bool | None = None, scrape_token_allowed: bool = False
) -> None:
    """Return when the caller may see internal data; else raise a 401 or a 403.

    `scrape_token_allowed` is for `/metrics` only: the scrape token opens nothing else.
    """
    allowed = settings.internal_loopback if loopback_allowed is None else loopback_allowed
    # aiohttp's `remote` is the TCP peer: a forwarded-for header cannot claim loopback.
    if allowed and is_loopback(getattr(request, "remote", None)):
        return
    if scrape_token_allowed and presents_scrape_token(request.headers):
        return
    # Any other bearer (a wrong scrape token too) is judged as an access token: a 401 if invalid.
    if not authenticate_caller(request.headers).staff:
        raise ForbiddenError("Only a staff user's token may see the pipeline's internals.")
