"""The read API's OpenAPI document: valid OpenAPI 3, and saying what the parser enforces."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from contracts.limits import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, TITLE_MAX_LENGTH, TODO_ID_MAX
from contracts.records import Position, Todo
from contracts.stores import unpack
from streams.domain import Projection
from streams.read_model.buckets import merge_bucket
from web_read.errors import BadRequestError, NotFoundError, UnauthorizedError, error_body
from web_read.openapi import build_document, document_json, document_yaml
from web_read.params import LIST_PARAMETERS, parse_id, parse_list_query

DOCUMENT = build_document()
COMPONENTS = DOCUMENT["components"]


def _validator(name: str) -> OAS30Validator:
    """A validator for a component schema, able to follow the document's $refs."""
    return OAS30Validator({**COMPONENTS["schemas"][name], "components": COMPONENTS})


def _parameter(name: str) -> dict[str, Any]:
    return COMPONENTS["parameters"][name]


def _accepts(name: str, text: str) -> bool:
    try:
        if name == "id":
            parse_id(text)
        else:
            parse_list_query([(name, text)])
    except BadRequestError:
        return False
    return True


def test_the_document_is_valid_openapi_3():
    validate(DOCUMENT)
    assert DOCUMENT["openapi"].startswith("3.")


def test_json_and_yaml_carry_the_same_document():
    import orjson

    assert orjson.loads(document_json()) == DOCUMENT
    assert yaml.safe_load(document_yaml()) == DOCUMENT


def test_every_path_is_a_get_of_a_route_served_with_and_without_its_slash():
    from web_read.views import routes

    served = {path for path, _, _ in routes()}
    for path, item in DOCUMENT["paths"].items():
        assert set(item) == {"get"}, path
        assert path in served and (path.rstrip("/") in served), path


def test_the_seed_paths_are_documented_like_the_api_paths():
    paths = DOCUMENT["paths"]
    for api, seed in (("/api/todos/", "/todos/"), ("/api/todos/{id}/", "/todos/{id}/")):
        api_op, seed_op = dict(paths[api]["get"]), dict(paths[seed]["get"])
        assert api_op.pop("operationId") != seed_op.pop("operationId")
        assert api_op == seed_op


def test_the_list_takes_exactly_the_parameters_the_parser_knows():
    listed = [
        p["$ref"].rsplit("/", 1)[1] for p in DOCUMENT["paths"]["/api/todos/"]["get"]["parameters"]
    ]
    assert tuple(listed) == LIST_PARAMETERS
    assert all(_parameter(name)["in"] == "query" for name in listed)
    with pytest.raises(BadRequestError):
        parse_list_query([("unlisted", "1")])


@pytest.mark.parametrize("name", ["limit", "after", "id"])
def test_integer_bounds_are_the_parsers(name):
    schema = _parameter(name)["schema"]
    assert schema["type"] == "integer"
    low, high = schema["minimum"], schema["maximum"]
    assert _accepts(name, str(low)) and _accepts(name, str(high))
    assert not _accepts(name, str(high + 1))
    assert not _accepts(name, str(low - 1))


def test_the_bounds_are_the_contracts():
    assert _parameter("limit")["schema"]["maximum"] == LIST_LIMIT_MAX
    assert _parameter("limit")["schema"]["default"] == LIST_LIMIT_DEFAULT
    assert parse_list_query([]).limit == LIST_LIMIT_DEFAULT
    assert _parameter("after")["schema"]["maximum"] == TODO_ID_MAX
    assert _parameter("id")["schema"]["maximum"] == TODO_ID_MAX
    assert _parameter("id")["in"] == "path" and _parameter("id")["required"] is True


def test_completed_is_a_boolean_as_the_parser_reads_it():
    assert _parameter("completed")["schema"] == {"type": "boolean"}
    assert _accepts("completed", "true") and _accepts("completed", "false")
    assert not _accepts("completed", "1")


def _todo(title: str = "Learn Kafka") -> Todo:
    moment = datetime(2026, 11, 27, 19, 42, tzinfo=UTC)
    return Todo(42, title, "EDA", True, moment, moment, 2)


def test_a_todo_from_the_table_and_one_from_a_mongodb_bucket_match_the_todo_schema():
    validator = _validator("Todo")
    validator.validate(_todo().to_json())
    position = Position(lsn=1, streamed=True, version=2)
    bucket = merge_bucket(None, {42: Projection(todo=_todo(), position=position)})
    assert bucket is not None
    validator.validate(unpack(bucket["todos"])[0])


def test_the_todo_schema_bounds_the_title_by_the_contract():
    validator = _validator("Todo")
    assert validator.is_valid(_todo("x" * TITLE_MAX_LENGTH).to_json())
    assert not validator.is_valid(_todo("x" * (TITLE_MAX_LENGTH + 1)).to_json())
    assert not validator.is_valid({**_todo().to_json(), "version": 2})


def test_error_bodies_match_the_error_schema():
    validator = _validator("Error")
    validator.validate(error_body(NotFoundError()))
    validator.validate(error_body(BadRequestError("limit must be an integer from 1 to 1000.")))
    validator.validate(error_body(UnauthorizedError()))
    validator.validate(error_body(UnauthorizedError("token expired")))
    assert not validator.is_valid({"error": "x"})


@pytest.mark.parametrize("status", ["400", "401", "503"])
def test_the_list_documents_its_errors_with_a_detail_body(status):
    response = DOCUMENT["paths"]["/api/todos/"]["get"]["responses"][status]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_the_detail_documents_200_400_401_404_503_and_health_200_503():
    detail = DOCUMENT["paths"]["/api/todos/{id}/"]["get"]["responses"]
    assert set(detail) == {"200", "400", "401", "404", "503"}
    assert set(DOCUMENT["paths"]["/health"]["get"]["responses"]) == {"200", "503"}


def test_the_next_link_header_pattern_matches_what_the_list_sends():
    import re

    header = COMPONENTS["headers"]["Link"]["schema"]
    sent = '<http://localhost:8080/api/todos/?limit=2&after=2>; rel="next"'
    assert re.search(header["pattern"], sent)
    list_200 = DOCUMENT["paths"]["/api/todos/"]["get"]["responses"]["200"]
    assert list_200["headers"]["Link"] == {"$ref": "#/components/headers/Link"}


def _operations() -> list[tuple[str, dict[str, Any]]]:
    return [(path, item["get"]) for path, item in DOCUMENT["paths"].items()]


def test_every_todo_operation_needs_a_bearer_token_and_documents_its_401():
    scheme = COMPONENTS["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    todo_operations = [op for path, op in _operations() if "/todos/" in path]
    assert len(todo_operations) == 4
    for operation in todo_operations:
        assert operation["security"] == [{"bearerAuth": []}]
        unauthorized = operation["responses"]["401"]
        assert unauthorized["headers"]["WWW-Authenticate"] == {
            "$ref": "#/components/headers/WWW-Authenticate"
        }


def test_health_needs_no_token_and_nothing_is_secured_document_wide():
    assert "security" not in DOCUMENT
    assert DOCUMENT["paths"]["/health"]["get"]["security"] == []
