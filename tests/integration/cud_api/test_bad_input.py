"""Every bad input gets a 4xx in the error envelope, and allocates and emits nothing."""

import json

import pytest

from contracts.limits import DESCRIPTION_MAX_LENGTH
from tests.integration.cud_api.conftest import sequence_last_value

JSON = {"Content-Type": "application/json"}


def assert_error(response, status):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "error"
    assert body["status_code"] == status
    assert isinstance(body["errors"], dict)
    assert body["message"]
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": None}, "title"),
        ({"title": 12}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "completed": "yes"}, "completed"),
        ({"title": "ok", "completed": 1}, "completed"),
        ({"title": "ok", "description": ["a"]}, "description"),
        ({"title": "ok", "owner": "me"}, "owner"),
        ([{"title": "ok"}], "non_field_errors"),
    ],
)
def test_invalid_create_is_400_naming_the_field(api, pg, body, field):
    before = sequence_last_value(pg)
    body = assert_error(api.post("/api/todos/", json=body), 400)
    assert field in body["errors"]
    assert sequence_last_value(pg) == before


def test_malformed_json_is_400(api, pg):
    before = sequence_last_value(pg)
    body = assert_error(api.post("/api/todos/", data=b'{"title": "x",', headers=JSON), 400)
    assert "JSON parse error" in body["message"]
    assert sequence_last_value(pg) == before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("title=x", "application/x-www-form-urlencoded"),
        ('{"title": "x"}', "text/plain"),
        ("<title>x</title>", "application/xml"),
    ],
)
def test_non_json_content_type_is_415(api, data, content_type):
    response = api.post("/api/todos/", data=data, headers={"Content-Type": content_type})
    assert_error(response, 415)


def test_body_over_64_kib_is_413(api, pg):
    before = sequence_last_value(pg)
    payload = json.dumps({"title": "big", "description": "x" * (64 * 1024)})
    assert_error(api.post("/api/todos/", data=payload, headers=JSON), 413)
    assert_error(api.put("/api/todos/1/", data=payload, headers=JSON), 413)
    assert sequence_last_value(pg) == before


def test_body_of_almost_64_kib_is_accepted(api):
    # The longest description, each character escaped by json.dumps as 6 bytes, padded with JSON
    # whitespace to just under the body limit.
    body = json.dumps({"title": "big", "description": "\u00e9" * DESCRIPTION_MAX_LENGTH})
    body += " " * (64 * 1024 - 1 - len(body))
    assert api.post("/api/todos/", data=body, headers=JSON).status_code == 202


def test_update_with_bad_fields_is_400(api):
    created = api.post("/api/todos/", json={"title": "to update"}).json()["data"]["id"]
    assert "title" in assert_error(api.put(f"/api/todos/{created}/", json={}), 400)["errors"]
    assert (
        "non_field_errors" in assert_error(api.patch(f"/todos/{created}", json={}), 400)["errors"]
    )
    patch = api.patch(f"/api/todos/{created}/", json={"completed": "no", "x": 1})
    assert set(assert_error(patch, 400)["errors"]) == {"completed", "x"}


@pytest.mark.parametrize("todo_id", ["abc", "-1", "0", "1.5", "1e3", "99999999999999999999"])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_non_integer_or_negative_id_is_404(api, method, todo_id):
    body = assert_error(api.request(method, f"/api/todos/{todo_id}/", json={"title": "x"}), 404)
    assert body["errors"] == {"todo_id": ["Must be a positive integer."]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/todos/"),
        ("PATCH", "/api/todos/"),
        ("DELETE", "/todos/"),
        ("POST", "/api/todos/1/"),
        ("POST", "/health/"),
        ("DELETE", "/api/commands/6c1ff6b4-5f34-4a0a-a0c5-3f2c8d2f9d11/"),
    ],
)
def test_wrong_method_is_405_with_allow(api, method, path):
    response = api.request(method, path, json={"title": "x"})
    assert_error(response, 405)
    assert method not in response.headers["Allow"]


def test_unknown_path_is_a_json_404(api):
    assert_error(api.get("/api/nothing-here/"), 404)


def test_bad_command_id_is_404(api):
    assert assert_error(api.get("/api/commands/42/"), 404)["errors"] == {
        "command_id": ["Must be a UUID."]
    }
