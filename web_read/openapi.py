"""The read API's OpenAPI 3 document, built from the contracts (limits and paging rules).

Every bound comes from the ranges the parser enforces (contracts.paging) or the limits,
so the document cannot say other than what the server does.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
import yaml

from contracts.limits import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, TITLE_MAX_LENGTH
from contracts.paging import AFTER, LIMIT, LIST_PARAMETERS, TODO_ID, IntegerRange

OPENAPI_VERSION = "3.0.3"
JSON_MEDIA_TYPE = "application/vnd.oai.openapi+json"
YAML_MEDIA_TYPE = "application/vnd.oai.openapi"
# `/todos/...` are the seed's paths, served the same as `/api/todos/...`.
PREFIXES = {"/api": "", "": "Seed"}
UNKNOWN_PARAMETERS = "A query parameter the operation does not list, or one given twice, is a 400."
SECURITY_SCHEME = "bearerAuth"
# Every todo operation needs an access token; health and the docs need none.
TOKEN_REQUIRED: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]
NO_TOKEN: list[dict[str, list[str]]] = []


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _integer(bounds: IntegerRange, **extra: Any) -> dict[str, Any]:
    return {
        "type": "integer",
        "format": "int64",
        "minimum": bounds.minimum,
        "maximum": bounds.maximum,
        **extra,
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref("schemas", "Error"))}


def _unauthorized() -> dict[str, Any]:
    return {
        **_error_response(
            "No access token, or one refused: malformed, bad signature, an algorithm other "
            "than EdDSA, expired, unknown key id, wrong issuer, a refresh token, or a user "
            "deactivated or deleted. `detail` says which."
        ),
        "headers": {"WWW-Authenticate": _ref("headers", "WWW-Authenticate")},
    }


def _schemas() -> dict[str, Any]:
    check = {"type": "object", "additionalProperties": True}
    return {
        "Todo": {
            "type": "object",
            "required": ["id", "title", "description", "completed", "created_at", "updated_at"],
            "additionalProperties": False,
            "properties": {
                "id": _integer(TODO_ID),
                "title": {"type": "string", "maxLength": TITLE_MAX_LENGTH},
                "description": {"type": "string"},
                "completed": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["detail"],
            "properties": {
                "detail": {"type": "string", "description": "What went wrong."},
                "code": {
                    "type": "string",
                    "description": "On a 401: `not_authenticated` or `token_not_valid`.",
                },
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "consumer", "table_recovery", "mongodb", "consumer_lag"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "unavailable"]},
                "consumer": check,
                "table_recovery": check,
                "mongodb": check,
                "users": {
                    "type": "object",
                    "description": (
                        "The users deny list: `caught up` once it has read the users' changes "
                        "to their end at start (until then tokens are checked by signature only)."
                    ),
                    "required": ["state", "refused_users", "skipped_records"],
                    "properties": {
                        "state": {"type": "string", "enum": ["catching up", "caught up"]},
                        "refused_users": {"type": "integer", "minimum": 0},
                        "skipped_records": {"type": "integer", "minimum": 0},
                    },
                },
                "consumer_lag": {
                    "type": "object",
                    "description": "Records not yet committed, per `topic[partition]`.",
                    "additionalProperties": {"type": "integer", "minimum": 0},
                },
                "standby_or_changelog": {
                    "type": "object",
                    "description": (
                        "Other assigned partitions (the table's changelog): not consumer lag."
                    ),
                    "additionalProperties": {"type": "integer", "minimum": 0},
                },
                "kafka_connect": {
                    "type": "object",
                    "description": "Kafka Connect's connectors and tasks as last polled.",
                    "required": ["state"],
                    "properties": {
                        "state": {
                            "type": "string",
                            "enum": ["not polled yet", "reachable", "unreachable"],
                        },
                        "connectors": {"type": "object"},
                        "error": {"type": "string"},
                    },
                },
                "problems": {
                    "type": "array",
                    "description": (
                        "The failing checks (only when unavailable): `consumer`, "
                        "`table_recovery`, `mongodb`, or `stalled: <topic[partition]> ...`."
                    ),
                    "items": {"type": "string"},
                },
                "warnings": {
                    "type": "array",
                    "description": "What is wrong elsewhere in the pipeline (Kafka Connect).",
                    "items": {"type": "string"},
                },
            },
        },
    }


def _parameters() -> dict[str, Any]:
    return {
        "completed": {
            "name": "completed",
            "in": "query",
            "required": False,
            "description": "Only completed (`true`) or only open (`false`) todos; both if absent.",
            "schema": {"type": "boolean"},
        },
        "limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Page size, at most {LIST_LIMIT_MAX}.",
            "schema": _integer(LIMIT, default=LIST_LIMIT_DEFAULT),
        },
        "after": {
            "name": "after",
            "in": "query",
            "required": False,
            "description": "Start after this todo id (the last id of the previous page).",
            "schema": _integer(AFTER),
        },
        "id": {
            "name": "id",
            "in": "path",
            "required": True,
            "description": "The todo's id.",
            "schema": _integer(TODO_ID),
        },
    }


def _list_operation(suffix: str) -> dict[str, Any]:
    return {
        "operationId": f"listTodos{suffix}",
        "tags": ["todos"],
        "summary": "List the caller's live todos by ascending id, keyset-paginated",
        "description": (
            "Only the todos of the user the access token names, served from the MongoDB read "
            "model. While more remain, the `Link` header names the next page "
            f'(`rel="next"`). {UNKNOWN_PARAMETERS}'
        ),
        "security": TOKEN_REQUIRED,
        "parameters": [_ref("parameters", name) for name in LIST_PARAMETERS],
        "responses": {
            "200": {
                "description": "One page of todos.",
                "headers": {"Link": _ref("headers", "Link")},
                "content": _json(
                    {
                        "type": "array",
                        "maxItems": LIST_LIMIT_MAX,
                        "items": _ref("schemas", "Todo"),
                    }
                ),
            },
            "400": _error_response("A malformed or unknown query parameter."),
            "401": _unauthorized(),
            "503": _error_response("MongoDB is unavailable or busy: retry later."),
        },
    }


def _detail_operation(suffix: str) -> dict[str, Any]:
    return {
        "operationId": f"getTodo{suffix}",
        "tags": ["todos"],
        "summary": "One of the caller's todos",
        "description": (
            "Served from the worker's table, by the worker owning the id's partition. Another "
            "user's todo is a 404, the same as a missing one. " + UNKNOWN_PARAMETERS
        ),
        "security": TOKEN_REQUIRED,
        "parameters": [_ref("parameters", "id")],
        "responses": {
            "200": {"description": "The todo.", "content": _json(_ref("schemas", "Todo"))},
            "400": _error_response("A malformed id or a query parameter."),
            "401": _unauthorized(),
            "404": _error_response("None of the caller's live todos has this id."),
            "503": _error_response("The worker cannot answer now: retry later."),
        },
    }


def _health_operation() -> dict[str, Any]:
    report = _json(_ref("schemas", "Health"))
    return {
        "operationId": "health",
        "tags": ["health"],
        "security": NO_TOKEN,
        "summary": "The worker's readiness",
        "description": (
            "Consuming, table recovered and MongoDB answering. Query parameters are ignored."
        ),
        "responses": {
            "200": {"description": "Ready.", "content": report},
            "503": {
                "description": "Not ready: `problems` names the failing checks.",
                "content": report,
            },
        },
    }


def build_document() -> dict[str, Any]:
    """Return the OpenAPI document of the read API as a fresh dict."""
    paths: dict[str, Any] = {}
    for prefix, suffix in PREFIXES.items():
        paths[f"{prefix}/todos/"] = {"get": _list_operation(suffix)}
        paths[f"{prefix}/todos/{{id}}/"] = {"get": _detail_operation(suffix)}
    paths["/health"] = {"get": _health_operation()}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "todo-eda read API",
            "version": "1.0.0",
            "description": (
                "Reads of the todos, served by the Faust worker: the list from MongoDB, one todo "
                "from the worker's table. Writes go to the write API. Every path also answers "
                "without its trailing slash. Each caller reads only their own todos: send the "
                "write API's access token (`POST /api/auth/token/`) as "
                "`Authorization: Bearer <token>` (Swagger UI: Authorize)."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "parameters": _parameters(),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        "An access token of the write API (EdDSA-signed JWT), verified here "
                        "with the public keys only."
                    ),
                }
            },
            "headers": {
                "WWW-Authenticate": {
                    "description": (
                        'The challenge: `Bearer realm="todo-eda"`, plus `error="invalid_token"` '
                        "and `error_description` when a token was given but refused."
                    ),
                    "schema": {"type": "string"},
                },
                "Link": {
                    "description": 'The next page, `<url>; rel="next"`; absent on the last page.',
                    "schema": {"type": "string", "pattern": '^<[^>]+>; rel="next"$'},
                },
            },
        },
    }


@functools.cache
def document_json() -> bytes:
    """Return the document as JSON bytes (built once)."""
    return orjson.dumps(build_document())


@functools.cache
def document_yaml() -> bytes:
    """Return the document as YAML bytes (built once)."""
    return yaml.safe_dump(build_document(), sort_keys=False, allow_unicode=True).encode()
