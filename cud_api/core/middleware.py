"""Request middleware: refuse oversized bodies with a real 413; admin-only middleware."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware

from cud_api.core.responses import error_json_response

# Bodies up to this size are read and dropped before answering 413, so the client's keep-alive
# connection stays usable; gunicorn closes the connection after a larger unread body.
DRAIN_LIMIT_BYTES = 1024 * 1024


def _discard_body(request: HttpRequest, length: int) -> None:
    if length > DRAIN_LIMIT_BYTES:
        return
    try:
        while request.read(64 * 1024):
            pass
    except OSError:
        pass  # the client went away; nothing to answer on


class BodySizeLimitMiddleware:
    """Answer 413 for a declared body over MAX_BODY_BYTES, before anything reads it.

    DRF reads the WSGI stream itself, so DATA_UPLOAD_MAX_MEMORY_SIZE alone does not guard
    JSON bodies, and where Django does apply it the answer is a 400.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Check Content-Length, then pass the request on."""
        declared = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(declared)
        except ValueError:
            return error_json_response(status_code=400, message="Invalid Content-Length header.")
        limit = settings.MAX_BODY_BYTES
        if length > limit:
            _discard_body(request, length)
            return error_json_response(
                status_code=413,
                message=f"Request body is {length} bytes; the limit is {limit} bytes.",
                errors={"body": [f"Must be at most {limit} bytes."]},
            )
        return self.get_response(request)


# Where config/urls.py mounts the admin.
ADMIN_PATH_PREFIX = "/admin/"


class AdminOnly:
    """Mixin: run a middleware's request and response steps for the admin's requests only.

    The JSON API has no session, user or messages and its views are CSRF-exempt, so for every
    other path these steps only cost time. Being subclasses, they still satisfy the admin's
    system checks. (CSRF's `process_view` still runs for every view, as Django calls it.)
    """

    def __call__(self, request: HttpRequest) -> Any:
        """Pass a request outside the admin straight on."""
        if request.path_info.startswith(ADMIN_PATH_PREFIX):
            return super().__call__(request)  # type: ignore[misc]
        return self.get_response(request)  # type: ignore[attr-defined]


class AdminSessionMiddleware(AdminOnly, SessionMiddleware):
    """Django's SessionMiddleware, for the admin's requests."""


class AdminCsrfViewMiddleware(AdminOnly, CsrfViewMiddleware):
    """Django's CsrfViewMiddleware (its cookie and request steps), for the admin's requests."""


class AdminAuthenticationMiddleware(AdminOnly, AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, for the admin's requests."""


class AdminMessageMiddleware(AdminOnly, MessageMiddleware):
    """Django's MessageMiddleware, for the admin's requests."""
