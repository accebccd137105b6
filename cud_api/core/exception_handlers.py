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

from cud_api.core import dependency_link
from cud_api.core.exceptions import ApplicationError, ConflictError, DependencyUnavailableError
from cud_api.core.responses import error_body
from cud_api.metrics.registry import REFUSAL_REASONS, write_refused

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


# Sign-in failures (wrong password) are not a bad bearer token: their challenge has no error.
_NOT_A_TOKEN_PROBLEM = {"no_active_account", "not_authenticated"}


def _quoted(text: str) -> str:
    """`text` as an RFC 7230 quoted-string's content (latin-1, no quotes or backslashes)."""
    cleaned = text.replace("\\", " ").replace('"', "'")
    return cleaned.encode("latin-1", "replace").decode("latin-1")


def _authentication_failure(
    exc: exceptions.AuthenticationFailed | exceptions.NotAuthenticated, headers: dict[str, str]
) -> Response:
    """A 401 in the envelope; a refused token's challenge says why (RFC 6750 section 3)."""
    detail = exc.detail
    if isinstance(detail, dict):  # simplejwt's exceptions: {"detail": ..., "code": ...}
        message = str(detail.get("detail", "Authentication failed."))
        code = str(detail.get("code", exc.default_code))
    else:
        message = str(detail)
        code = str(getattr(detail, "code", exc.default_code))
    challenge = headers.get("WWW-Authenticate")
    if exc.status_code == 401 and challenge and code not in _NOT_A_TOKEN_PROBLEM:
        error = "invalid_request" if code == "bad_authorization_header" else "invalid_token"
        headers["WWW-Authenticate"] = (
            f'{challenge}, error="{error}", error_description="{_quoted(message)}"'
        )
    field = "credentials" if code == "no_active_account" else "authorization"
    return _envelope(exc.status_code, message, {field: [message]}, headers)


# librdkafka's error names (the producer's reasons are "delivery_" + one) meaning no broker
# could be reached, as opposed to a broker that answered with an error.
_KAFKA_UNREACHABLE = {"delivery_transport", "delivery_all_brokers_down", "delivery_resolve"}
# SQLSTATEs of a statement cancelled by statement_timeout or lock_timeout.
_PG_TIMEOUT_STATES = {"57014", "55P03"}


def kafka_refusal_reason(reason: str) -> str:
    """Fold a Kafka refusal's reason (the producer's finer names) into the counter's fixed set."""
    if reason in REFUSAL_REASONS:
        return reason
    if reason == "produce_error":
        return "produce_failed"
    if reason == "no_delivery_report" or reason.endswith(("timed_out", "timed_out_queue")):
        return "timeout"
    if reason in _KAFKA_UNREACHABLE:
        return "unreachable"
    if reason.startswith("delivery_"):
        return "produce_failed"
    return "unavailable"


def postgres_refusal_reason(exc: OperationalError | InterfaceError) -> str:
    """Why PostgreSQL failed, from the exception class and the driver's SQLSTATE (not its text)."""
    if isinstance(exc, InterfaceError):
        return "connection_lost"  # a connection closed under Django (the server restarted)
    sqlstate = None
    cause: BaseException | None = exc
    while cause is not None and sqlstate is None:
        sqlstate = getattr(cause, "sqlstate", None)
        cause = cause.__cause__
    if sqlstate is None or sqlstate.startswith(("08", "57P")):
        # No SQLSTATE: psycopg could not connect or lost the connection; class 08 is a
        # connection exception, 57P a server shutting down or starting up.
        return "unreachable"
    return "timeout" if sqlstate in _PG_TIMEOUT_STATES else "unavailable"


def _retry_after(dependency: str) -> dict[str, str]:
    """The Retry-After header of a 503 that `dependency` caused."""
    link = dependency_link.link_of(dependency)
    seconds = (
        link.retry_after_s(settings.RETRY_AFTER_SECONDS, settings.RETRY_AFTER_MAX_SECONDS)
        if link is not None
        else settings.RETRY_AFTER_SECONDS
    )
    return {"Retry-After": str(seconds)}


def _count_refusal(dependency: str, reason: str) -> None:
    if settings.METRICS_ON:
        write_refused(dependency, reason)


def envelope_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Map any exception raised in a view to the error envelope; log the unexpected ones."""
    if isinstance(exc, ApplicationError):
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, ConflictError) else None
        return _envelope(exc.status_code, exc.message, exc.extra, headers)
    if isinstance(exc, DependencyUnavailableError):
        reason = kafka_refusal_reason(exc.reason) if exc.dependency == "kafka" else exc.reason
        _count_refusal(exc.dependency, reason)
        return _envelope(
            503,
            exc.message,
            {exc.dependency: [exc.detail or "unavailable"]},
            _retry_after(exc.dependency),
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # Connection loss or timeout talking to PostgreSQL: a dependency outage, not a bug,
        # logged once when it begins (and once when a connection is made again).
        dependency_link.POSTGRES.failed(str(exc).strip() or exc.__class__.__name__)
        _count_refusal("postgres", postgres_refusal_reason(exc))
        return _envelope(
            503,
            "PostgreSQL is unavailable; nothing was queued. Retry later.",
            {"postgres": [str(exc).strip() or exc.__class__.__name__]},
            _retry_after("postgres"),
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
    if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
        return _authentication_failure(exc, headers)
    if isinstance(exc, exceptions.ValidationError):
        return _envelope(exc.status_code, "Invalid input.", _validation_errors(exc.detail), headers)
    detail = exc.detail
    message = str(detail) if not isinstance(detail, dict | list) else "Request failed."
    return _envelope(exc.status_code, message, None, headers)
