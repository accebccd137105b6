"""`GET /metrics`: the Prometheus text page, for staff users or a loopback scraper."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from cud_api.metrics.registry import scrape_registry


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


class MetricsAccess(BasePermission):
    """Allow a staff user's token, or any loopback client when CUD_API_METRICS_LOOPBACK is on.

    Refused without a token: 401 (DRF's rule for a failed permission with no authenticated
    user); with a non-staff user's token: 403.
    """

    message = "Metrics are for staff users."

    def has_permission(self, request: Request, view: object) -> bool:
        """Apply the rule above."""
        if settings.CUD_API_METRICS_LOOPBACK and is_loopback(request.META.get("REMOTE_ADDR")):
            return True
        user = request.user
        return bool(user is not None and user.is_active and user.is_staff)


class MetricsApi(APIView):
    """The write API's metrics in the Prometheus text format (every gunicorn worker summed)."""

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
