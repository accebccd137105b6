"""The published OpenAPI document carries every rule the write API enforces."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from cud_api.todos.inputs import TITLE_PATTERN


@pytest.fixture(scope="module")
def schema():
    document = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(document)  # a valid OpenAPI 3 document, or this raises
    return document


def body_schema(schema, path, method):
    ref = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def parameter(schema, path, method, name):
    (found,) = [p for p in schema["paths"][path][method]["parameters"] if p["name"] == name]
    return found


@pytest.mark.parametrize(
    ("method", "path", "component"),
    [
        ("post", "/api/todos/", "TodoWrite"),
        ("put", "/api/todos/{todo_id}/", "TodoWrite"),
        ("patch", "/api/todos/{todo_id}/", "TodoPatch"),
    ],
)
def test_request_bodies_refuse_unknown_fields_and_blank_titles(schema, method, path, component):
    body = body_schema(schema, path, method)
    assert body["title"] == component
    assert body["additionalProperties"] is False
    title = body["properties"]["title"]
    assert (title["minLength"], title["maxLength"], title["pattern"]) == (1, 200, TITLE_PATTERN)
    assert body["properties"]["completed"]["type"] == "boolean"
    if method == "patch":
        assert body["minProperties"] == 1 and "required" not in body
    else:
        assert body["required"] == ["title"]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_todo_id_is_a_positive_bigint(schema, method):
    todo_id = parameter(schema, "/api/todos/{todo_id}/", method, "todo_id")["schema"]
    assert todo_id == {
        "type": "integer",
        "format": "int64",
        "minimum": 1,
        "maximum": 2**63 - 1,
    }


def test_list_parameters_have_their_types_and_bounds(schema):
    params = {p["name"]: p["schema"] for p in schema["paths"]["/api/todos/"]["get"]["parameters"]}
    assert params["limit"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
    assert params["page_size"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert params["after"]["minimum"] == 0 and params["after"]["maximum"] == 2**63 - 1
    assert params["page"] == {
        "type": "integer",
        "format": "int64",
        "minimum": 1,
        "maximum": 2**63 - 1,
    }
    assert params["completed"] == {"type": "boolean"}
    responses = schema["paths"]["/api/todos/"]["get"]["responses"]
    assert "Link" in responses["200"]["headers"]
    assert set(responses) == {"200", "400", "401", "404", "503"}


def test_idempotency_key_has_its_bounds(schema):
    key = parameter(schema, "/api/todos/", "post", "Idempotency-Key")["schema"]
    assert key == {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}


def test_a_bearer_scheme_guards_every_todos_and_commands_operation(schema):
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "An access token from `POST /api/auth/token/` (EdDSA-signed JWT, short-lived)."
        ),
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            guarded = path.startswith(("/api/todos", "/api/commands"))
            if guarded:
                assert operation["security"] == [{"bearerAuth": []}], (path, method)
                assert "401" in operation["responses"], (path, method)
            else:  # open: no scheme, or the empty one ("no authentication")
                assert operation.get("security", [{}]) == [{}], (path, method)


def test_the_auth_endpoints_are_documented(schema):
    assert set(schema["paths"]["/api/auth/register/"]["post"]["responses"]) == {
        "201",
        "400",
        "403",
    }
    assert set(schema["paths"]["/api/auth/token/"]["post"]["responses"]) == {
        "200",
        "400",
        "401",
        "429",
    }
    assert set(schema["paths"]["/api/auth/token/refresh/"]["post"]["responses"]) == {
        "200",
        "400",
        "401",
    }
