"""The HTTP layer without services: envelopes, status codes and headers for each outcome.

Services and selectors are replaced, so no PostgreSQL or Kafka is involved.
"""

import json
import uuid

import pytest
from django.db import OperationalError
from django.test import Client

from cud_api.core.exceptions import DependencyUnavailableError, NotFoundError
from cud_api.todos import apis
from cud_api.todos.services import CommandReceipt

COMMAND_ID = uuid.UUID("11111111-2222-4333-8444-555555555555")


@pytest.fixture
def client():
    return Client(HTTP_HOST="localhost", raise_request_exception=False)


@pytest.fixture
def sent(monkeypatch):
    """Replace the write services; record what they were called with."""
    calls = []

    def create(**kwargs):
        calls.append(("create", kwargs))
        return CommandReceipt(todo_id=42, command_id=COMMAND_ID, operation="create")

    def update(*, todo_id, data):
        calls.append(("update", {"todo_id": todo_id, "data": data}))
        return CommandReceipt(todo_id=todo_id, command_id=COMMAND_ID, operation="update")

    def delete(*, todo_id):
        calls.append(("delete", {"todo_id": todo_id}))
        return CommandReceipt(todo_id=todo_id, command_id=COMMAND_ID, operation="delete")

    monkeypatch.setattr(apis, "todo_create", create)
    monkeypatch.setattr(apis, "todo_update", update)
    monkeypatch.setattr(apis, "todo_delete", delete)
    return calls


def send(client, method, path, body=None, content_type="application/json", **headers):
    data = json.dumps(body) if body is not None and not isinstance(body, str | bytes) else body
    return getattr(client, method)(path, data=data or "", content_type=content_type, **headers)


def assert_error(response, status, *fields):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "error"
    assert body["status_code"] == status
    assert isinstance(body["message"], str) and body["message"]
    for field in fields:
        assert field in body["errors"], body
    return body


@pytest.mark.parametrize("path", ["/api/todos/", "/api/todos", "/todos/", "/todos"])
def test_create_answers_202_envelope_with_location(client, sent, path):
    response = send(client, "post", path, {"title": "Learn Kafka"})
    assert response.status_code == 202
    assert response["Location"] == f"/api/commands/{COMMAND_ID}/"
    assert response.json() == {
        "status": "success",
        "status_code": 202,
        "data": {"id": 42, "command_id": str(COMMAND_ID)},
        "message": "Todo create successfully queued",
    }
    assert sent == [("create", {"title": "Learn Kafka", "description": "", "completed": False})]


def test_put_sends_every_field_and_patch_only_those_given(client, sent):
    put = send(client, "put", "/api/todos/7/", {"title": "t", "completed": True})
    patch = send(client, "patch", "/todos/7", {"description": "d"})
    assert put.status_code == patch.status_code == 202
    assert put.json()["message"] == "Todo update successfully queued"
    assert sent == [
        ("update", {"todo_id": 7, "data": {"title": "t", "description": "", "completed": True}}),
        ("update", {"todo_id": 7, "data": {"description": "d"}}),
    ]


def test_delete_answers_202_without_a_body(client, sent):
    response = client.delete("/api/todos/9/")
    assert response.status_code == 202
    assert response.json()["message"] == "Todo delete successfully queued"
    assert response["Location"] == f"/api/commands/{COMMAND_ID}/"
    assert sent == [("delete", {"todo_id": 9})]


def test_malformed_json_is_400(client, sent):
    assert_error(send(client, "post", "/api/todos/", '{"title": '), 400)
    assert sent == []


def test_invalid_fields_are_400_with_field_errors(client, sent):
    body = assert_error(
        send(client, "post", "/api/todos/", {"title": "", "completed": "yes", "x": 1}),
        400,
        "title",
        "completed",
        "x",
    )
    assert body["message"] == "Invalid input."
    assert sent == []


def test_non_json_content_type_is_415(client, sent):
    assert_error(send(client, "post", "/api/todos/", "title=x", "text/plain"), 415)
    form = client.post("/api/todos/", {"title": "x"})  # multipart form
    assert_error(form, 415)
    assert sent == []


def test_body_over_64_kib_is_413(client, sent):
    body = {"title": "t", "description": "x" * (64 * 1024)}
    assert_error(send(client, "post", "/api/todos/", body), 413, "body")
    assert sent == []


def test_body_just_under_64_kib_is_accepted(client, sent):
    body = {"title": "t", "description": ""}
    body["description"] = "x" * (64 * 1024 - len(json.dumps(body)))
    assert send(client, "post", "/api/todos/", body).status_code == 202


@pytest.mark.parametrize("todo_id", ["abc", "-1", "0", "1.5", "9223372036854775808", "٣"])
def test_id_that_is_not_a_positive_bigint_is_404(client, sent, todo_id):
    assert_error(send(client, "put", f"/api/todos/{todo_id}/", {"title": "t"}), 404, "todo_id")
    assert_error(client.delete(f"/api/todos/{todo_id}/"), 404)
    assert sent == []


def test_wrong_method_is_405_with_allow_header(client):
    response = send(client, "patch", "/api/todos/", {"title": "t"})
    assert_error(response, 405)
    assert "POST" in response["Allow"]
    assert_error(client.post("/health/"), 405)


def test_unknown_url_is_json_404(client):
    assert_error(client.get("/nope/"), 404)


def test_kafka_outage_is_503_with_retry_after(client, monkeypatch):
    def down(**kwargs):
        raise DependencyUnavailableError("kafka", "Kafka did not acknowledge.", "timed out")

    monkeypatch.setattr(apis, "todo_create", down)
    response = send(client, "post", "/api/todos/", {"title": "t"})
    body = assert_error(response, 503, "kafka")
    assert int(response["Retry-After"]) > 0
    assert "queued" not in body["message"]


def test_database_outage_is_503_naming_postgres(client, monkeypatch):
    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(apis, "todo_create", down)
    response = send(client, "post", "/api/todos/", {"title": "t"})
    assert_error(response, 503, "postgres")
    assert response["Retry-After"]


def test_unallocated_id_is_404_from_the_service(client, monkeypatch):
    def missing(**kwargs):
        raise NotFoundError("Todo 5 does not exist.")

    monkeypatch.setattr(apis, "todo_delete", missing)
    body = assert_error(client.delete("/api/todos/5/"), 404)
    assert body["message"] == "Todo 5 does not exist."


def test_unexpected_error_is_500_envelope_without_traceback(client, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(apis, "todo_create", boom)
    response = send(client, "post", "/api/todos/", {"title": "t"})
    body = assert_error(response, 500)
    assert "secret internals" not in response.content.decode()
    assert body["message"] == "Internal server error."


def test_invalid_idempotency_key_is_400(client, sent):
    response = send(client, "post", "/api/todos/", {"title": "t"}, HTTP_IDEMPOTENCY_KEY="a b")
    assert_error(response, 400, "Idempotency-Key")
    assert sent == []


@pytest.mark.parametrize("command_id", ["not-a-uuid", "123"])
def test_command_status_with_a_non_uuid_is_404(client, command_id):
    assert_error(client.get(f"/api/commands/{command_id}/"), 404, "command_id")
