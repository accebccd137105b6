"""The read API's errors: each a WebError with its HTTP status, mapped in one place."""

from __future__ import annotations

import http
from typing import Any

from faust.web.exceptions import WebError


class BadRequestError(WebError):
    """The request's parameters are malformed (400)."""

    code = http.HTTPStatus.BAD_REQUEST
    detail = "Bad request."


class NotFoundError(WebError):
    """No such todo (404)."""

    code = http.HTTPStatus.NOT_FOUND
    detail = "Not found."


class UnavailableError(WebError):
    """A dependency is down or the worker is not ready (503)."""

    code = http.HTTPStatus.SERVICE_UNAVAILABLE
    detail = "Service unavailable."


class InternalServerError(WebError):
    """Anything unexpected (500), reported without a traceback."""

    code = http.HTTPStatus.INTERNAL_SERVER_ERROR
    detail = "Internal server error."


def error_body(exc: WebError) -> dict[str, Any]:
    """Return the JSON body for an error: DRF's `{"detail": ...}` shape plus any context."""
    return {"detail": exc.detail, **exc.extra_context}
