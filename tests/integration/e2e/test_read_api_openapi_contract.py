"""The read API against its own OpenAPI document, with requests Schemathesis generates from it.

Fetched from the running worker's /api/schema/, the document drives positive and negative
cases for every operation: no 5xx, every schema-valid request accepted, every schema-invalid
one refused, every response (status, headers, body) as documented. Seeded and bounded.

The cases come from `operation.as_strategy` under Hypothesis' own `@given`: Schemathesis'
lazy pytest loader (`schemathesis.pytest.from_fixture`) sets `Function._nodeid`, which
pytest 9.2 no longer has.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.schemas import OpenApiSchema

from web_read.openapi import build_document

SEED = 20261201
EXAMPLES = 100  # per run: 9 runs x 100 requests
# Each operation in both modes, but negative only where there is a parameter to break.
RUNS = [
    pytest.param(path, mode, id=f"{path}-{mode}")
    for path, item in build_document()["paths"].items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or item["get"].get("parameters")
]


@pytest.fixture(scope="session")
def read_api_schema(pipeline: Any) -> OpenApiSchema:
    """The read API's document as the worker serves it, its base URL the worker's."""
    config = SchemathesisConfig.from_dict({"seed": SEED, "base-url": pipeline.read_url})
    return schemathesis.openapi.from_url(f"{pipeline.read_url}/api/schema/", config=config)


def test_the_served_document_is_the_one_the_code_builds(pipeline: Any):
    response = pipeline.read("/api/schema/")
    assert response.status_code == 200
    assert response.json() == build_document()


def _bearer(pipeline: Any) -> dict[str, str]:
    """The pipeline user's Authorization header, with a token valid for a while yet."""
    return {"Authorization": f"Bearer {pipeline.auth.token()}"}


@pytest.mark.parametrize(("path", "mode"), RUNS)
def test_generated_requests_get_the_documented_answers(
    pipeline: Any, read_api_schema: OpenApiSchema, path: str, mode: GenerationMode
):
    operation = read_api_schema[path]["GET"]

    @hypothesis.seed(SEED)
    # No deadline: a request's time is the server's, not the generator's; no example database.
    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None)
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        case.call_and_validate(headers=_bearer(pipeline))

    check()


def test_stored_todos_and_the_next_link_conform(pipeline: Any, read_api_schema: OpenApiSchema):
    ids = [pipeline.create(f"openapi contract {n}") for n in range(3)]
    for todo_id in ids:
        pipeline.wait_todo(todo_id, lambda body: True)
    detail = read_api_schema["/api/todos/{id}/"]["GET"]
    for todo_id in ids:
        case = detail.Case(path_parameters={"id": todo_id})
        response = case.call_and_validate(headers=_bearer(pipeline))
        assert response.status_code == 200
    listing = read_api_schema["/api/todos/"]["GET"]
    case = listing.Case(query={"limit": 1, "after": ids[0] - 1})
    response = case.call_and_validate(headers=_bearer(pipeline))
    assert response.status_code == 200
    assert [link.endswith('rel="next"') for link in response.headers["link"]] == [True]
    assert [todo["id"] for todo in response.json()] == [ids[0]]


@pytest.mark.parametrize(
    "query", ["complete=true", "limit=2&limit=3", "page_size=5", "completed=True", "completed=1"]
)
def test_parameters_or_values_the_document_does_not_allow_are_refused(pipeline: Any, query: str):
    # Schemathesis lets these pass (it reads `True` and `1` as booleans, ignores extra names).
    response = pipeline.read(f"/api/todos/?{query}")
    assert response.status_code == 400, response.text
    assert "detail" in response.json()


def _integer_parameters(document: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    """(path, parameter, minimum, maximum) for each integer parameter of the API's operations."""
    found = []
    for path, item in document["paths"].items():
        for ref in item["get"].get("parameters", []):
            parameter = document["components"]["parameters"][ref["$ref"].rsplit("/", 1)[1]]
            schema = parameter["schema"]
            if schema["type"] == "integer":
                found.append((path, parameter["name"], schema["minimum"], schema["maximum"]))
    return found


def _request(path: str, name: str, value: int) -> str:
    if "{" + name + "}" in path:
        return path.replace("{" + name + "}", str(value))
    return f"{path}?{name}={value}"


def test_each_integer_parameter_takes_its_documented_bounds_and_nothing_past_them(pipeline: Any):
    # Random generation seldom lands on a bound; these requests are the bounds and one past.
    document = pipeline.read("/api/schema/").json()
    checked = _integer_parameters(document)
    assert {name for _, name, _, _ in checked} == {"limit", "after", "id"}
    for path, name, low, high in checked:
        for value in (low, high):
            response = pipeline.read(_request(path, name, value))
            assert response.status_code in (200, 404), (path, name, value, response.text)
        for value in (low - 1, high + 1):
            response = pipeline.read(_request(path, name, value))
            assert response.status_code == 400, (path, name, value, response.text)
