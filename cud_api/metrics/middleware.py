"""Count and time every request by its route's name, method and status."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from cud_api.metrics.registry import HTTP_REQUEST_DURATION, HTTP_REQUESTS

# Label values must stay a small fixed set: a method outside it, or a path no URL pattern
# matched (a 404, or a 413 answered before URL resolution), gets one shared value.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED_ROUTE = "unmatched"


def route_label(request: HttpRequest) -> str:
    """Return the matched URL pattern's name (with its namespace), never the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.url_name:
        return UNMATCHED_ROUTE
    return str(match.view_name)


def method_label(method: str | None) -> str:
    """Return the request's method, or `other` for one outside the known set."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


class RequestMetricsMiddleware:
    """Record each request's count and latency; first in MIDDLEWARE, so 413s count too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Time the rest of the chain, then label the result."""
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = route_label(request)
        method = method_label(request.method)
        HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        HTTP_REQUEST_DURATION.labels(route, method).observe(elapsed)
        return response
