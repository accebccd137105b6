"""Exceptions the services raise; the one DRF exception handler turns them into responses."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A request the service refuses (400 unless a subclass says otherwise)."""

    status_code = 400

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class ForbiddenError(ApplicationError):
    """The request is understood but not allowed on this server (403)."""

    status_code = 403


class NotFoundError(ApplicationError):
    """The addressed resource does not exist (404)."""

    status_code = 404


class ConflictError(ApplicationError):
    """The request conflicts with one still in flight (409)."""

    status_code = 409
    retry_after = 1


class UnprocessableError(ApplicationError):
    """The request is well-formed but cannot be honoured as sent (422)."""

    status_code = 422


class DependencyUnavailableError(Exception):
    """A dependency (PostgreSQL or Kafka) could not do its part in time (503 + Retry-After)."""

    status_code = 503

    def __init__(
        self, dependency: str, message: str, detail: str = "", reason: str = "unavailable"
    ) -> None:
        super().__init__(message)
        self.dependency = dependency
        self.message = message
        self.detail = detail
        # Why, as a short fixed name (a metrics label), never the dependency's own error text.
        self.reason = reason
