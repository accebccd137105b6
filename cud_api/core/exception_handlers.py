"""The one DRF exception handler: every error leaves the API in the same envelope."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from cud_api.core.exceptions import ApplicationError, ConflictError, DependencyUnavailableError
from cud_api.core.responses import error_body

logger = logging.getLogger(__name__)


def _validation_errors(detail: Any) -> dict[str, Any]:
    """Shape DRF validation detail as field -> messages (non-field errors under their own key)."""
    if isinstance(detail, dict):
        return dict(detail)
    if isinstance(detail, list):
        return {"non_field_errors": detail}
    return {"non_field_errors": [detail]}


def _envelope(
    status_code: int,
    message: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    set_rollback()
    return Response(
        error_body(status_code=status_code, message=message, errors=errors),
        status=status_code,
        headers=headers,
    )


def envelope_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Map any exception raised in a view to the error envelope; log the unexpected ones."""
    if isinstance(exc, ApplicationError):
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, ConflictError) else None
        return _envelope(exc.status_code, exc.message, exc.extra, headers)
    if isinstance(exc, DependencyUnavailableError):
        return _envelope(
            503,
            exc.message,
            {exc.dependency: [exc.detail or "unavailable"]},
            {"Retry-After": str(settings.RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # Connection loss or timeout talking to PostgreSQL: a dependency outage, not a bug.
        logger.warning("PostgreSQL error: %s", exc)
        return _envelope(
            503,
            "PostgreSQL is unavailable; nothing was queued. Retry later.",
            {"postgres": [str(exc).strip() or exc.__class__.__name__]},
            {"Retry-After": str(settings.RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, RequestDataTooBig):
        limit = settings.MAX_BODY_BYTES
        return _envelope(
            413,
            f"Request body is over the limit of {limit} bytes.",
            {"body": [f"Must be at most {limit} bytes."]},
        )

    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if not isinstance(exc, exceptions.APIException):
        logger.error("Unhandled error in %s", context.get("view"), exc_info=exc)
        return _envelope(500, "Internal server error.")

    # DRF's own handler adds the headers it knows (Allow, Retry-After, WWW-Authenticate).
    response = drf_exception_handler(exc, context)
    headers = {k: v for k, v in response.items()} if response is not None else {}
    if isinstance(exc, exceptions.ValidationError):
        return _envelope(exc.status_code, "Invalid input.", _validation_errors(exc.detail), headers)
    detail = exc.detail
    message = str(detail) if not isinstance(detail, dict | list) else "Request failed."
    return _envelope(exc.status_code, message, None, headers)
