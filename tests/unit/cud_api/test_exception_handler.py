"""The one DRF exception handler maps every exception to the error envelope."""

import itertools

import psycopg
import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.test import override_settings
from prometheus_client import REGISTRY
from psycopg import errors as pg_errors
from rest_framework import exceptions

from cud_api.core.exception_handlers import envelope_exception_handler
from cud_api.core.exceptions import (
    ApplicationError,
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    UnprocessableError,
)
from cud_api.metrics.registry import REFUSAL_DEPENDENCIES, REFUSAL_REASONS
from cud_api.todos.commands import ProduceFailedError


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


# The refusals counter -------------------------------------------------------------------------

REFUSALS = "cud_api_write_refusals_total"


def refusals(dependency: str, reason: str) -> float:
    return REGISTRY.get_sample_value(REFUSALS, {"dependency": dependency, "reason": reason}) or 0.0


def all_refusals() -> float:
    """The counter summed over every label value it may take."""
    return sum(refusals(d, r) for d, r in itertools.product(REFUSAL_DEPENDENCIES, REFUSAL_REASONS))


def kafka_refused(reason: str) -> ProduceFailedError:
    return ProduceFailedError(reason, "kafka", "Kafka is not accepting commands right now.", "x")


def postgres_failed(cause: BaseException) -> OperationalError:
    """Django's OperationalError around a driver error, as Django's wrapper raises it."""
    exc = OperationalError(str(cause))
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "dependency", "reason"),
    [
        (DependencyUnavailableError("kafka", "down"), "kafka", "unavailable"),
        (kafka_refused("queue_full"), "kafka", "queue_full"),
        (kafka_refused("produce_error"), "kafka", "produce_failed"),
        (kafka_refused("no_delivery_report"), "kafka", "timeout"),
        (kafka_refused("delivery_msg_timed_out"), "kafka", "timeout"),
        (kafka_refused("delivery_all_brokers_down"), "kafka", "unreachable"),
        (kafka_refused("delivery_not_enough_replicas"), "kafka", "produce_failed"),
        (DependencyUnavailableError("postgres", "slow", reason="timeout"), "postgres", "timeout"),
        (InterfaceError("connection already closed"), "postgres", "connection_lost"),
        (OperationalError("connection refused"), "postgres", "unreachable"),
        (postgres_failed(psycopg.OperationalError("server closed")), "postgres", "unreachable"),
        (postgres_failed(pg_errors.AdminShutdown("terminating")), "postgres", "unreachable"),
        (postgres_failed(pg_errors.QueryCanceled("statement timeout")), "postgres", "timeout"),
        (postgres_failed(pg_errors.TooManyConnections("too many")), "postgres", "unavailable"),
        # Re-raised by the id block over the first failure (cud_api.todos.ids).
        (
            postgres_failed(postgres_failed(pg_errors.QueryCanceled("statement timeout"))),
            "postgres",
            "timeout",
        ),
    ],
)
def test_each_503_is_counted_once_under_its_dependency_and_reason(exc, dependency, reason):
    before, total = refusals(dependency, reason), all_refusals()
    assert handle(exc).status_code == 503
    assert refusals(dependency, reason) == before + 1
    assert all_refusals() == total + 1


def test_an_unknown_dependency_or_reason_text_never_becomes_a_label_value():
    exc = DependencyUnavailableError("redis", "down", "10.0.0.7 refused", reason="10.0.0.7 refused")
    before, total = refusals("other", "unavailable"), all_refusals()
    assert handle(exc).status_code == 503
    assert refusals("other", "unavailable") == before + 1
    assert all_refusals() == total + 1
    assert (
        REGISTRY.get_sample_value(REFUSALS, {"dependency": "redis", "reason": "unavailable"})
        is None
    )


def test_answers_other_than_503_are_not_refusals():
    total = all_refusals()
    for exc in (ConflictError("busy"), ZeroDivisionError(), exceptions.NotFound()):
        assert handle(exc).status_code != 503
    assert all_refusals() == total


@override_settings(METRICS_ON=False)
def test_with_the_metrics_off_a_503_is_not_counted():
    total = all_refusals()
    assert handle(kafka_refused("queue_full")).status_code == 503
    assert all_refusals() == total


def test_a_503_asks_for_a_longer_wait_the_longer_its_dependency_has_been_down(monkeypatch):
    from cud_api.core import dependency_link

    clock = {"now": 0.0}
    link = dependency_link.DependencyLink("Kafka", lambda: clock["now"])
    monkeypatch.setattr(dependency_link, "KAFKA", link)
    refused = ProduceFailedError("unreachable", "kafka", "Kafka is unreachable.")
    assert int(handle(refused)["Retry-After"]) in {5, 6}
    link.failed("Connection refused")
    clock["now"] += 100.0
    assert 10 <= int(handle(refused)["Retry-After"]) <= 12
    clock["now"] += 1000.0
    assert int(handle(refused)["Retry-After"]) == settings.RETRY_AFTER_MAX_SECONDS
