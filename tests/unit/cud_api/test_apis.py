"""The HTTP layer without services: envelopes, status codes and headers for each outcome.

Services and selectors are replaced, so no PostgreSQL or Kafka is involved.
"""

import json
import uuid
from datetime import UTC, datetime

import pytest
from django.db import OperationalError
from django.test import Client

from contracts.limits import DESCRIPTION_MAX_LENGTH
from cud_api.core.exceptions import DependencyUnavailableError, NotFoundError
from cud_api.todos import apis, commands
from cud_api.todos.models import Todo, TodoCommand
from cud_api.todos.services import CommandReceipt
from tests.unit.cud_api.conftest import ALICE_ID, BOB_ID, bearer

COMMAND_ID = uuid.UUID("11111111-2222-4333-8444-555555555555")


@pytest.fixture
def client(users):
    """A test client authenticated as Alice."""
    return Client(
        HTTP_HOST="localhost", raise_request_exception=False, **bearer(users.rows[ALICE_ID])
    )


@pytest.fixture
def sent(monkeypatch):
    """Replace the write services; record what they were called with."""
    calls = []

    def create(**kwargs):
        calls.append(("create", kwargs))
        return CommandReceipt(todo_id=42, command_id=COMMAND_ID, operation="create")

    def update(*, todo_id, owner_id, data):
        calls.append(("update", {"todo_id": todo_id, "owner_id": owner_id, "data": data}))
        return CommandReceipt(todo_id=todo_id, command_id=COMMAND_ID, operation="update")

    def delete(*, todo_id, owner_id):
        calls.append(("delete", {"todo_id": todo_id, "owner_id": owner_id}))
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
    assert sent == [
        (
            "create",
            {"owner_id": ALICE_ID, "title": "Learn Kafka", "description": "", "completed": False},
        )
    ]


def test_put_sends_every_field_and_patch_only_those_given(client, sent):
    put = send(client, "put", "/api/todos/7/", {"title": "t", "completed": True})
    patch = send(client, "patch", "/todos/7", {"description": "d"})
    assert put.status_code == patch.status_code == 202
    assert put.json()["message"] == "Todo update successfully queued"
    everything = {"title": "t", "description": "", "completed": True}
    assert sent == [
        ("update", {"todo_id": 7, "owner_id": ALICE_ID, "data": everything}),
        ("update", {"todo_id": 7, "owner_id": ALICE_ID, "data": {"description": "d"}}),
    ]


def test_delete_answers_202_without_a_body(client, sent):
    response = client.delete("/api/todos/9/")
    assert response.status_code == 202
    assert response.json()["message"] == "Todo delete successfully queued"
    assert response["Location"] == f"/api/commands/{COMMAND_ID}/"
    assert sent == [("delete", {"todo_id": 9, "owner_id": ALICE_ID})]


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
    # The longest description, each character escaped by json.dumps as 6 bytes (\u00e9), padded
    # with JSON whitespace to the limit.
    body = json.dumps({"title": "t", "description": "\u00e9" * DESCRIPTION_MAX_LENGTH})
    assert len(body) > 6 * DESCRIPTION_MAX_LENGTH
    body += " " * (64 * 1024 - len(body))
    assert len(body) == 64 * 1024
    assert send(client, "post", "/api/todos/", body).status_code == 202


def test_description_over_its_limit_is_400(client, sent):
    body = {"title": "t", "description": "x" * (DESCRIPTION_MAX_LENGTH + 1)}
    response = assert_error(send(client, "post", "/api/todos/", body), 400, "description")
    assert response["errors"]["description"] == [
        f"Ensure this field has no more than {DESCRIPTION_MAX_LENGTH} characters."
    ]
    assert sent == []


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


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [
        ("post", "/api/todos/", {"title": "t"}, {}),
        ("post", "/api/todos/", {"title": "t"}, {"HTTP_IDEMPOTENCY_KEY": "k-1"}),
        ("put", "/api/todos/5/", {"title": "t"}, {}),
        ("patch", "/api/todos/5/", {"completed": True}, {}),
        ("delete", "/api/todos/5/", None, {}),
    ],
)
def test_while_kafka_is_known_down_a_write_is_refused_before_any_other_work(
    client, sent, monkeypatch, method, path, body, headers
):
    commands.KAFKA.failed("Connection refused")
    keyed = []
    monkeypatch.setattr(apis, "idempotent_call", lambda **kwargs: keyed.append(kwargs))
    response = send(client, method, path, body, **headers)
    body = assert_error(response, 503, "kafka")
    assert int(response["Retry-After"]) > 0
    assert sent == []
    assert keyed == []


def test_while_kafka_is_known_down_a_bad_body_is_still_400(client, sent):
    commands.KAFKA.failed("Connection refused")
    assert_error(send(client, "post", "/api/todos/", {"title": ""}), 400, "title")


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


@pytest.fixture
def stored(monkeypatch):
    """Five todos (ids 10, 20 ... 50) in place of PostgreSQL, filtered as the selector does."""
    now = datetime.now(UTC)
    todos = [
        Todo(id=i, title=f"t{i}", completed=i % 20 == 0, created_at=now, updated_at=now)
        for i in (10, 20, 30, 40, 50)
    ]

    def todo_list(*, owner_id, completed=None, after=None):
        assert owner_id == ALICE_ID
        return [
            t
            for t in todos
            if (completed is None or t.completed == completed) and (after is None or t.id > after)
        ]

    monkeypatch.setattr(apis, "todo_list", todo_list)
    return todos


def test_list_pages_by_limit_and_after_with_a_link_header(client, stored):
    first = client.get("/api/todos/?limit=2")
    assert first.status_code == 200
    data = first.json()["data"]
    assert [t["id"] for t in data["results"]] == [10, 20]
    assert data["next"] == "http://localhost/api/todos/?after=20&limit=2"
    assert first["Link"] == '<http://localhost/api/todos/?after=20&limit=2>; rel="next"'
    last = client.get("/api/todos/?after=30&limit=2")
    assert [t["id"] for t in last.json()["data"]["results"]] == [40, 50]
    assert last.json()["data"]["next"] is None
    assert "Link" not in last


def test_list_keeps_the_filter_in_its_next_link(client, stored):
    response = client.get("/api/todos/?completed=false&page_size=1")
    assert [t["id"] for t in response.json()["data"]["results"]] == [10]
    assert response.json()["data"]["next"] == (
        "http://localhost/api/todos/?after=10&completed=false&limit=1"
    )


def test_list_default_is_one_page_of_100_without_a_link(client, stored):
    response = client.get("/api/todos/")
    assert set(response.json()["data"]) == {"results", "next"}
    assert len(response.json()["data"]["results"]) == 5
    assert "Link" not in response


def test_list_by_page_number_still_works(client, stored):
    response = client.get("/api/todos/?page=2&page_size=2")
    data = response.json()["data"]
    assert data["count"] == 5
    assert [t["id"] for t in data["results"]] == [30, 40]
    assert data["next"] == "http://localhost/api/todos/?page=3&page_size=2"
    assert data["previous"] == "http://localhost/api/todos/?page=1&page_size=2"
    assert response["Link"] == f'<{data["next"]}>; rel="next"'


def test_list_page_past_the_last_is_404(client, stored):
    assert_error(client.get("/api/todos/?page=4&page_size=2"), 404, "page")


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("limit=0", "limit", "limit must be an integer from 1 to 1000."),
        ("limit=1001", "limit", "limit must be an integer from 1 to 1000."),
        ("page_size=5000", "page_size", "page_size must be an integer from 1 to 1000."),
        ("after=-1", "after", "after must be an integer from 0 to 9223372036854775807."),
        ("completed=maybe", "completed", "completed must be true or false."),
        ("page=0", "page", "page must be an integer from 1 to 9223372036854775807."),
    ],
)
def test_list_parameter_out_of_bounds_is_400(client, stored, query, field, message):
    body = assert_error(client.get(f"/api/todos/?{query}"), 400, field)
    assert body["message"] == message


@pytest.mark.parametrize(
    "command_id", ["{11111111-2222-4333-8444-555555555555}", "11111111222243338444555555555555"]
)
def test_command_status_needs_the_canonical_uuid_form(client, command_id):
    assert_error(client.get(f"/api/commands/{command_id}/"), 404, "command_id")


def test_a_body_naming_an_owner_is_400_and_the_owner_comes_from_the_token(client, sent):
    for field in ("owner_id", "owner"):
        body = assert_error(
            send(client, "post", "/api/todos/", {"title": "t", field: BOB_ID}), 400, field
        )
        assert body["message"] == "Invalid input."
    assert sent == []


def test_every_todos_and_commands_endpoint_needs_a_token(sent):
    anonymous = Client(HTTP_HOST="localhost", raise_request_exception=False)
    calls = [
        ("get", "/api/todos/"),
        ("post", "/api/todos/"),
        ("get", "/api/todos/1/"),
        ("put", "/api/todos/1/"),
        ("patch", "/todos/1"),
        ("delete", "/api/todos/1/"),
        ("get", f"/api/commands/{COMMAND_ID}/"),
    ]
    for method, path in calls:
        if method in ("get", "delete"):
            response = getattr(anonymous, method)(path)
        else:
            response = send(anonymous, method, path, {"title": "t"})
        body = assert_error(response, 401, "authorization")
        assert response["WWW-Authenticate"] == 'Bearer realm="todo-eda"'
        assert body["message"] == "Authentication credentials were not provided."
    assert sent == []


def test_health_and_docs_stay_open_without_a_token(monkeypatch):
    from cud_api.core import apis as core_apis

    monkeypatch.setattr(core_apis, "postgres_check", lambda: {"migrated": True})
    monkeypatch.setattr(core_apis, "kafka_check", lambda: {"brokers": 1, "partitions": 4})
    anonymous = Client(HTTP_HOST="localhost", raise_request_exception=False)
    assert anonymous.get("/health/").status_code == 200
    # A token, even a bad one, changes nothing there.
    assert anonymous.get("/health/", HTTP_AUTHORIZATION="Bearer junk").status_code == 200
    assert anonymous.get("/api/schema/").status_code == 200
    assert anonymous.get("/api/docs/").status_code == 200


def test_another_users_command_is_404_and_an_unclaimed_one_pending(client, monkeypatch):
    outcomes = {}
    monkeypatch.setattr(apis, "todo_command_get", lambda *, command_id: outcomes.get(command_id))
    assert client.get(f"/api/commands/{COMMAND_ID}/").json()["data"]["status"] == "pending"
    outcomes[COMMAND_ID] = TodoCommand(
        command_id=COMMAND_ID,
        todo_id=3,
        operation="create",
        status="applied",
        owner_id=BOB_ID,
        applied_at=datetime.now(UTC),
    )
    assert_error(client.get(f"/api/commands/{COMMAND_ID}/"), 404)
    outcomes[COMMAND_ID].owner_id = ALICE_ID
    assert client.get(f"/api/commands/{COMMAND_ID}/").json()["data"]["status"] == "applied"


def test_get_by_id_asks_for_the_callers_row_only(client, monkeypatch):
    asked = []

    def todo_get(*, todo_id, owner_id):
        asked.append((todo_id, owner_id))

    monkeypatch.setattr(apis, "todo_get", todo_get)
    assert_error(client.get("/api/todos/5/"), 404)
    assert asked == [(5, ALICE_ID)]
