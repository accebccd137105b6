"""The OpenAPI description of the todos endpoints: envelopes, parameters, error answers.

Request bodies are the pydantic models of `inputs.py`; everything here describes what
`apis.py` and `paging.py` enforce, so the document states each rule the server applies.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from contracts import paging
from contracts.limits import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, TODO_ID_MAX, TODO_ID_MIN
from cud_api.core import schema as _schema  # noqa: F401  (registers the pydantic extension)
from cud_api.todos.idempotency import IDEMPOTENCY_HEADER, KEY_PATTERN, MAX_KEY_LENGTH
from cud_api.todos.outputs import TodoOutputSerializer
from cud_api.todos.paging import PAGE


def envelope_schema(name: str, data: serializers.Field | serializers.BaseSerializer) -> Any:
    """The success envelope around `data`, as a named schema component."""
    return inline_serializer(
        name=name,
        fields={
            "status": serializers.CharField(),
            "status_code": serializers.IntegerField(),
            "data": data,
            "message": serializers.CharField(),
        },
    )


ERROR_SCHEMA = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "status": serializers.CharField(default="error"),
        "status_code": serializers.IntegerField(),
        "errors": serializers.DictField(child=serializers.ListField()),
        "message": serializers.CharField(),
    },
)
ACCEPTED_SCHEMA = envelope_schema(
    "AcceptedEnvelope",
    inline_serializer(
        name="QueuedCommand",
        fields={"id": serializers.IntegerField(), "command_id": serializers.UUIDField()},
    ),
)
BODY_ERRORS = {
    400: OpenApiResponse(ERROR_SCHEMA, "Malformed JSON or invalid fields."),
    413: OpenApiResponse(ERROR_SCHEMA, "Body over 64 KiB."),
    415: OpenApiResponse(ERROR_SCHEMA, "Body is not application/json."),
}
# Every todos and commands endpoint needs a token, and every one can be unavailable.
UNAVAILABLE = {
    401: OpenApiResponse(
        ERROR_SCHEMA,
        "No access token, or one refused (bad, expired, another key or issuer, a refresh "
        "token, an inactive or deleted user); `WWW-Authenticate` says why.",
    ),
    503: OpenApiResponse(ERROR_SCHEMA, "Kafka or PostgreSQL unavailable; retry after Retry-After."),
}
WRITE_ERRORS = {
    **BODY_ERRORS,
    404: OpenApiResponse(ERROR_SCHEMA, "No such todo id, or another user's todo."),
    **UNAVAILABLE,
}
TODO_ID_PARAMETER = OpenApiParameter(
    "todo_id",
    {"type": "integer", "format": "int64", "minimum": TODO_ID_MIN, "maximum": TODO_ID_MAX},
    OpenApiParameter.PATH,
    description="A todo id; anything else is a 404.",
)
COMMAND_ID_PARAMETER = OpenApiParameter(
    "command_id",
    {"type": "string", "format": "uuid"},
    OpenApiParameter.PATH,
    description="A command id as the 202 gave it (8-4-4-4-12 hex); anything else is a 404.",
)
_SIZE = {"type": "integer", "minimum": paging.LIMIT.minimum, "maximum": paging.LIMIT.maximum}
LIST_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {**_SIZE, "default": LIST_LIMIT_DEFAULT},
        description=f"Todos per page, 1 to {LIST_LIMIT_MAX}.",
    ),
    OpenApiParameter(
        "after",
        {
            "type": "integer",
            "format": "int64",
            "minimum": paging.AFTER.minimum,
            "maximum": paging.AFTER.maximum,
        },
        description="Only todos with a larger id: the previous page's last (0: the start).",
    ),
    OpenApiParameter("completed", {"type": "boolean"}, description="Only todos in this state."),
    OpenApiParameter(
        "page_size",
        _SIZE,
        description="Older name of `limit`, kept for compatibility; `limit` wins if both are sent.",
    ),
    OpenApiParameter(
        "page",
        {"type": "integer", "format": "int64", "minimum": PAGE.minimum, "maximum": PAGE.maximum},
        description=(
            "Compatibility: numbered pages (from 1) instead of `after`; the answer then also has "
            "`count` and `previous`. A page past the last is a 404."
        ),
    ),
]
NEXT_LINK_HEADER = OpenApiParameter(
    "Link",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    description='`<url>; rel="next"` while more todos remain (the same URL as `data.next`).',
)
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN},
    OpenApiParameter.HEADER,
    description="Same key within 24 h: the first response again, no second command.",
)
TODO_PAGE_SCHEMA = envelope_schema(
    "TodoPageEnvelope",
    inline_serializer(
        name="TodoPage",
        fields={
            "results": TodoOutputSerializer(many=True),
            "next": serializers.URLField(
                allow_null=True, help_text="The next page, or null on the last."
            ),
            "count": serializers.IntegerField(required=False, help_text="With `page` only."),
            "previous": serializers.URLField(
                allow_null=True, required=False, help_text="With `page` only."
            ),
        },
    ),
)
