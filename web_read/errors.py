"""The read API's errors: each a WebError with its HTTP status, mapped in one place."""

from __future__ import annotations

import http
from typing import Any

from faust.web.exceptions import WebError

#: The protection space both APIs name in their `WWW-Authenticate` challenges.
REALM = "todo-eda"


class BadRequestError(WebError):
    """The request's parameters are malformed (400)."""

    code = http.HTTPStatus.BAD_REQUEST
    detail = "Bad request."


class UnauthorizedError(WebError):
    """No valid access token (401); `challenge` is the `WWW-Authenticate` header's value.

    Without credentials the challenge names only the realm (RFC 6750, section 3); a token
    that was given but refused adds `error="invalid_token"` and why.
    """

    code = http.HTTPStatus.UNAUTHORIZED
    detail = "Authentication credentials were not provided."

    def __init__(self, description: str | None = None) -> None:
        super().__init__(None if description is None else f"Invalid token: {description}.")
        # WebError's own `code` keyword is the HTTP status, so the body's code is set here.
        self.extra_context = {
            "code": "not_authenticated" if description is None else "token_not_valid"
        }
        self.description = description

    @property
    def challenge(self) -> str:
        """Return the `WWW-Authenticate` value for this refusal."""
        if self.description is None:
            return f'Bearer realm="{REALM}"'
        # Only our own fixed phrases go here, never the token: nothing to escape.
        return (
            f'Bearer realm="{REALM}", error="invalid_token", error_description="{self.description}"'
        )


class ForbiddenError(WebError):
    """A valid caller who may not see this (403)."""

    code = http.HTTPStatus.FORBIDDEN
    detail = "You do not have permission to perform this action."


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
