"""The one DRF exception handler maps every exception to the error envelope."""

import pytest
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError
from django.http import Http404
from rest_framework import exceptions

from cud_api.core.exception_handlers import envelope_exception_handler
from cud_api.core.exceptions import (
    ApplicationError,
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    UnprocessableError,
)


def handle(exc):
    response = envelope_exception_handler(exc, {"view": None})
    assert set(response.data) == {"status", "status_code", "errors", "message"}
    assert response.data["status"] == "error"
    assert response.data["status_code"] == response.status_code
    return response


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (exceptions.ParseError("JSON parse error"), 400),
        (exceptions.UnsupportedMediaType("text/plain"), 415),
        (exceptions.MethodNotAllowed("GET"), 405),
        (exceptions.NotFound(), 404),
        (Http404(), 404),
        (PermissionDenied(), 403),
        (RequestDataTooBig(), 413),
        (ApplicationError("no"), 400),
        (NotFoundError("gone"), 404),
        (ConflictError("busy"), 409),
        (UnprocessableError("other body"), 422),
        (DependencyUnavailableError("kafka", "down"), 503),
        (InterfaceError("connection already closed"), 503),
        (ZeroDivisionError(), 500),
    ],
)
def test_exception_maps_to_status(exc, status):
    assert handle(exc).status_code == status


def test_field_errors_keep_their_field_names():
    response = handle(exceptions.ValidationError({"title": ["This field is required."]}))
    assert response.data["errors"] == {"title": ["This field is required."]}
    assert response.data["message"] == "Invalid input."


def test_list_validation_errors_become_non_field_errors():
    response = handle(exceptions.ValidationError(["bad"]))
    assert response.data["errors"] == {"non_field_errors": ["bad"]}


def test_django_validation_error_becomes_400_with_fields():
    response = handle(DjangoValidationError({"title": ["too long"]}))
    assert response.status_code == 400
    assert response.data["errors"] == {"title": ["too long"]}


def test_application_error_extra_is_the_errors():
    response = handle(ApplicationError("bad key", {"Idempotency-Key": ["too long"]}))
    assert response.data["errors"] == {"Idempotency-Key": ["too long"]}
    assert response.data["message"] == "bad key"


def test_unavailable_dependencies_ask_to_retry_later():
    for exc in (DependencyUnavailableError("kafka", "down", "timeout"), InterfaceError("x")):
        assert int(handle(exc)["Retry-After"]) > 0
    assert handle(ConflictError("busy"))["Retry-After"] == "1"


def test_unexpected_error_message_hides_the_details():
    response = handle(RuntimeError("password=hunter2"))
    assert "hunter2" not in str(response.data)


def test_method_not_allowed_message_names_the_method():
    assert handle(exceptions.MethodNotAllowed("PATCH")).data["message"] == (
        'Method "PATCH" not allowed.'
    )
