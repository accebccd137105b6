"""`GET /metrics`: the Prometheus text page, for staff, a loopback scraper or the scrape token."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from contracts import auth
from cud_api.accounts.authentication import BearerAuthentication
from cud_api.metrics.registry import scrape_registry


class ScrapeCredentials:
    """`request.auth` of a request that presented the scrape token (never the secret itself)."""


SCRAPE_TOKEN = ScrapeCredentials()
_scrape_tokens: dict[str, auth.ScrapeToken] = {}


def scrape_token() -> auth.ScrapeToken:
    """Return this process's scrape token, of the file settings.METRICS_SCRAPE_TOKEN_FILE names."""
    path = settings.METRICS_SCRAPE_TOKEN_FILE
    # One reader per path, kept: it holds the secret between its rereads of the file.
    if path not in _scrape_tokens:
        _scrape_tokens[path] = auth.ScrapeToken(Path(path) if path.strip() else None)
    return _scrape_tokens[path]


def is_loopback(address: str | None) -> bool:
    """Return whether a client address is a loopback one (IPv4, IPv6 or IPv4-mapped IPv6)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


class ScrapeTokenAuthentication(BaseAuthentication):
    """Recognise `Authorization: Bearer <scrape token>`; any other header is left to the next.

    A bearer that is not the scrape token goes on to the access-token check, so a wrong one is
    refused as an invalid token (401).
    """

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ScrapeCredentials] | None:
        """Return (anonymous, SCRAPE_TOKEN) for the scrape token, else None."""
        scheme, _, credentials = get_authorization_header(request).partition(b" ")
        if scheme.lower() != b"bearer" or not credentials.strip():
            return None
        presented = credentials.strip().decode("latin-1")
        return (AnonymousUser(), SCRAPE_TOKEN) if scrape_token().accepts(presented) else None

    def authenticate_header(self, request: Request) -> str:
        """The access tokens' challenge: DRF asks the first authenticator for a 401's header."""
        return BearerAuthentication().authenticate_header(request)


class MetricsAccess(BasePermission):
    """Allow a staff user's token, the scrape token, or any loopback client when
    CUD_API_METRICS_LOOPBACK is on.

    Refused without a token: 401 (DRF's rule for a failed permission with no authenticated
    user); with a non-staff user's token: 403.
    """

    message = "Metrics are for staff users."

    def has_permission(self, request: Request, view: object) -> bool:
        """Apply the rule above."""
        if settings.CUD_API_METRICS_LOOPBACK and is_loopback(request.META.get("REMOTE_ADDR")):
            return True
        if request.auth is SCRAPE_TOKEN:
            return True
        user = request.user
        return bool(user is not None and user.is_active and user.is_staff)


class MetricsApi(APIView):
    """The write API's metrics in the Prometheus text format (every gunicorn worker summed)."""

    # The scrape token first: this page alone accepts it, beside the access tokens.
    authentication_classes = (ScrapeTokenAuthentication, BearerAuthentication)
    permission_classes = (MetricsAccess,)
    # Not part of the public API's documentation.
    schema = None

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        """Never 406: a scraper's Accept (text/plain, OpenMetrics) gets the text page, and an
        error still gets the JSON envelope (DRF's forced choice: the first renderer)."""
        return super().perform_content_negotiation(request, force=True)

    def get(self, request: Request) -> HttpResponse:
        """Render the current values."""
        return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
