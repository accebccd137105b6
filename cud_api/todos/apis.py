"""HTTP endpoints of the todos app: validate, call a service or selector, answer an envelope."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contracts.limits import TITLE_MAX_LENGTH, TODO_ID_MAX, TODO_ID_MIN
from cud_api.core.exceptions import NotFoundError
from cud_api.core.responses import success_body
from cud_api.todos.idempotency import (
    StoredResponse,
    idempotency_key_validate,
    idempotent_call,
    request_fingerprint,
)
from cud_api.todos.models import CommandOperation, Todo, TodoCommand
from cud_api.todos.selectors import todo_command_get, todo_get, todo_list
from cud_api.todos.services import (
    CommandReceipt,
    todo_create,
    todo_create_receipt,
    todo_delete,
    todo_update,
)
from cud_api.todos.validation import todo_input_validate

IDEMPOTENCY_HEADER = "Idempotency-Key"


class StrictCharField(serializers.CharField):
    """A CharField that refuses non-strings instead of converting numbers to text."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        """Accept only JSON strings."""
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A BooleanField that accepts only JSON true/false, not "yes", 1 or "true"."""

    default_error_messages = {"invalid": "Must be a boolean (true or false)."}

    def to_internal_value(self, data: Any) -> bool:
        """Accept only JSON booleans."""
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class TodoInputSerializer(serializers.Serializer[dict[str, Any]]):
    """A todo write: title required (PATCH: any non-empty subset), nothing unknown."""

    title = StrictCharField(max_length=TITLE_MAX_LENGTH)
    description = StrictCharField(
        required=False, allow_blank=True, trim_whitespace=False, default=""
    )
    completed = StrictBooleanField(required=False, default=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """Validate the fields, and refuse any field the API does not know."""
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        unknown_errors = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except ValidationError as exc:
            if unknown_errors and isinstance(exc.detail, dict):
                raise ValidationError({**exc.detail, **unknown_errors}) from exc
            raise
        if unknown_errors:
            raise ValidationError(unknown_errors)
        if self.partial and not value:
            raise ValidationError(
                {"non_field_errors": ["Send at least one of: title, description, completed."]}
            )
        return dict(value)


class TodoOutputSerializer(serializers.ModelSerializer[Todo]):
    """A todo as stored in PostgreSQL."""

    class Meta:
        model = Todo
        fields = ("id", "title", "description", "completed", "created_at", "updated_at", "version")


class CommandStatusOutputSerializer(serializers.Serializer[Any]):
    """A command's outcome: pending until the command agent records it."""

    command_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["pending", "applied", "rejected"])
    todo_id = serializers.IntegerField(allow_null=True)
    operation = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    applied_at = serializers.DateTimeField(allow_null=True)


def _envelope_schema(name: str, data: serializers.Field | serializers.BaseSerializer) -> Any:
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
ACCEPTED_SCHEMA = _envelope_schema(
    "AcceptedEnvelope",
    inline_serializer(
        name="QueuedCommand",
        fields={"id": serializers.IntegerField(), "command_id": serializers.UUIDField()},
    ),
)
WRITE_ERRORS = {
    400: OpenApiResponse(ERROR_SCHEMA, "Malformed JSON or invalid fields."),
    404: OpenApiResponse(ERROR_SCHEMA, "No such todo id."),
    413: OpenApiResponse(ERROR_SCHEMA, "Body over 64 KiB."),
    415: OpenApiResponse(ERROR_SCHEMA, "Body is not application/json."),
    503: OpenApiResponse(ERROR_SCHEMA, "Kafka or PostgreSQL unavailable; retry after Retry-After."),
}
TODO_ID_PARAMETER = OpenApiParameter(
    "todo_id", OpenApiTypes.INT64, OpenApiParameter.PATH, description="A todo id (positive)."
)


class TodoPagination(PageNumberPagination):
    """Page-number pagination, 50 per page unless `page_size` asks for up to 500."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def _accepted(receipt: CommandReceipt) -> StoredResponse:
    """The 202 for a queued command, with the command's status URL in Location."""
    body = success_body(
        status_code=202,
        data={"id": receipt.todo_id, "command_id": str(receipt.command_id)},
        message=f"Todo {receipt.operation} successfully queued",
    )
    return StoredResponse(
        status_code=202,
        body=body,
        headers={"Location": f"/api/commands/{receipt.command_id}/"},
    )


def _receipt(accepted: StoredResponse) -> CommandReceipt:
    """The receipt a 202 from `_accepted` was made from."""
    data = accepted.body["data"]
    return CommandReceipt(
        todo_id=int(data["id"]),
        command_id=uuid.UUID(data["command_id"]),
        operation=CommandOperation.CREATE,
    )


def _respond(stored: StoredResponse) -> Response:
    response = Response(stored.body, status=stored.status_code, headers=stored.headers)
    if stored.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _parse_todo_id(raw: str) -> int:
    """Turn a URL segment into a todo id; anything but a positive bigint is a 404."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 19:
        value = int(raw)
        if TODO_ID_MIN <= value <= TODO_ID_MAX:
            return value
    raise NotFoundError(
        f"No todo {raw!r}: todo ids are positive integers.",
        {"todo_id": ["Must be a positive integer."]},
    )


def _validated(request: Request, *, partial: bool = False) -> dict[str, Any]:
    # Same rules and messages as TodoInputSerializer, without building one per request.
    return todo_input_validate(request.data, partial=partial)


class TodoListCreateApi(APIView):
    """`/api/todos/`: list from PostgreSQL, or queue a create."""

    @extend_schema(
        operation_id="todos_list",
        parameters=[
            OpenApiParameter("page", int, description="Page number, from 1."),
            OpenApiParameter("page_size", int, description="Todos per page (max 500)."),
        ],
        responses={
            200: _envelope_schema(
                "TodoPageEnvelope",
                inline_serializer(
                    name="TodoPage",
                    fields={
                        "count": serializers.IntegerField(),
                        "next": serializers.URLField(allow_null=True),
                        "previous": serializers.URLField(allow_null=True),
                        "results": TodoOutputSerializer(many=True),
                    },
                ),
            ),
            404: OpenApiResponse(ERROR_SCHEMA, "Page out of range."),
        },
    )
    def get(self, request: Request) -> Response:
        """List todos, ordered by id, a page at a time."""
        paginator = TodoPagination()
        page = paginator.paginate_queryset(todo_list(), request, view=self)
        assert page is not None and paginator.page is not None
        data = {
            "count": paginator.page.paginator.count,
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "results": TodoOutputSerializer(page, many=True).data,
        }
        return Response(success_body(status_code=200, data=data, message="Todos retrieved"))

    @extend_schema(
        operation_id="todos_create",
        request=TodoInputSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description="Same key within 24 h: the first response again, no second command.",
            )
        ],
        responses={
            202: ACCEPTED_SCHEMA,
            409: OpenApiResponse(ERROR_SCHEMA, "Same key still in flight."),
            422: OpenApiResponse(ERROR_SCHEMA, "Key reused with another body."),
            **WRITE_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        """Allocate an id and queue a create command; 202 once Kafka acknowledged it."""
        data = _validated(request)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return _respond(_accepted(todo_create(**data)))
        stored = idempotent_call(
            key=idempotency_key_validate(key),
            fingerprint=request_fingerprint(operation="todos.create", payload=request.data),
            promise=lambda: _accepted(todo_create_receipt()),
            fulfil=lambda promised: todo_create(**data, receipt=_receipt(promised)),
        )
        return _respond(stored)


class TodoDetailApi(APIView):
    """`/api/todos/{id}/`: read from PostgreSQL, or queue an update or delete."""

    @extend_schema(
        operation_id="todos_retrieve",
        parameters=[TODO_ID_PARAMETER],
        responses={
            200: _envelope_schema("TodoEnvelope", TodoOutputSerializer()),
            404: OpenApiResponse(ERROR_SCHEMA, "Not stored (yet)."),
        },
    )
    def get(self, request: Request, todo_id: str) -> Response:
        """Return one todo as stored in PostgreSQL."""
        pk = _parse_todo_id(todo_id)
        todo = todo_get(todo_id=pk)
        if todo is None:
            raise NotFoundError(f"Todo {pk} not found (a create may still be pending).")
        return Response(
            success_body(
                status_code=200, data=TodoOutputSerializer(todo).data, message="Todo retrieved"
            )
        )

    @extend_schema(
        operation_id="todos_replace",
        parameters=[TODO_ID_PARAMETER],
        request=TodoInputSerializer,
        responses={202: ACCEPTED_SCHEMA, **WRITE_ERRORS},
    )
    def put(self, request: Request, todo_id: str) -> Response:
        """Queue an update carrying every field (omitted optional fields take their defaults)."""
        pk = _parse_todo_id(todo_id)
        data = _validated(request)
        return _respond(_accepted(todo_update(todo_id=pk, data=data)))

    @extend_schema(
        operation_id="todos_partial_update",
        parameters=[TODO_ID_PARAMETER],
        request=TodoInputSerializer(partial=True),
        responses={202: ACCEPTED_SCHEMA, **WRITE_ERRORS},
    )
    def patch(self, request: Request, todo_id: str) -> Response:
        """Queue an update carrying only the fields sent."""
        pk = _parse_todo_id(todo_id)
        data = _validated(request, partial=True)
        return _respond(_accepted(todo_update(todo_id=pk, data=data)))

    @extend_schema(
        operation_id="todos_destroy",
        parameters=[TODO_ID_PARAMETER],
        request=None,
        responses={202: ACCEPTED_SCHEMA, **WRITE_ERRORS},
    )
    def delete(self, request: Request, todo_id: str) -> Response:
        """Queue a delete."""
        pk = _parse_todo_id(todo_id)
        return _respond(_accepted(todo_delete(todo_id=pk)))


def _command_status(command_id: uuid.UUID, outcome: TodoCommand | None) -> dict[str, Any]:
    if outcome is None:
        return {
            "command_id": command_id,
            "status": "pending",
            "todo_id": None,
            "operation": None,
            "reason": None,
            "applied_at": None,
        }
    return {
        "command_id": outcome.command_id,
        "status": outcome.status,
        "todo_id": outcome.todo_id,
        "operation": outcome.operation,
        "reason": outcome.reason,
        "applied_at": outcome.applied_at,
    }


class CommandStatusApi(APIView):
    """`/api/commands/{command_id}/`: pending, applied or rejected (with the reason)."""

    @extend_schema(
        operation_id="commands_retrieve",
        parameters=[
            OpenApiParameter("command_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        ],
        responses={
            200: _envelope_schema("CommandStatusEnvelope", CommandStatusOutputSerializer()),
            404: OpenApiResponse(ERROR_SCHEMA, "Not a UUID."),
        },
    )
    def get(self, request: Request, command_id: str) -> Response:
        """Return the command's outcome as recorded by the command agent."""
        try:
            parsed = uuid.UUID(command_id)
        except ValueError as exc:
            raise NotFoundError(
                f"No command {command_id!r}: command ids are UUIDs.",
                {"command_id": ["Must be a UUID."]},
            ) from exc
        status = _command_status(parsed, todo_command_get(command_id=parsed))
        data = CommandStatusOutputSerializer(status).data
        return Response(
            success_body(status_code=200, data=data, message=f"Command {data['status']}")
        )
