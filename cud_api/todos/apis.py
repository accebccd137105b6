"""HTTP endpoints of the todos app: validate, call a service or selector, answer an envelope."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import EmptyPage, Paginator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contracts.limits import TODO_ID_MAX, TODO_ID_MIN
from cud_api.core.exceptions import NotFoundError
from cud_api.core.responses import success_body, success_response
from cud_api.todos.commands import command_admission_check
from cud_api.todos.idempotency import (
    IDEMPOTENCY_META_KEY,
    StoredResponse,
    idempotency_key_scope,
    idempotency_key_validate,
    idempotent_call,
    request_fingerprint,
)
from cud_api.todos.inputs import TodoPatch, TodoWrite, todo_input_validate
from cud_api.todos.models import CommandOperation, TodoCommand
from cud_api.todos.openapi import (
    ACCEPTED_SCHEMA,
    BODY_ERRORS,
    COMMAND_ID_PARAMETER,
    ERROR_SCHEMA,
    IDEMPOTENCY_KEY_PARAMETER,
    LIST_PARAMETERS,
    NEXT_LINK_HEADER,
    TODO_ID_PARAMETER,
    TODO_PAGE_SCHEMA,
    UNAVAILABLE,
    WRITE_ERRORS,
    envelope_schema,
)
from cud_api.todos.outputs import CommandStatusOutputSerializer, TodoOutputSerializer
from cud_api.todos.paging import ListQuery, list_query_parse
from cud_api.todos.selectors import todo_command_get, todo_get, todo_list
from cud_api.todos.services import (
    CommandReceipt,
    todo_create,
    todo_create_receipt,
    todo_delete,
    todo_update,
)


def _query_pairs(request: Request) -> list[tuple[str, str]]:
    """The query's (name, value) pairs in order, repeats kept (the contract refuses repeats)."""
    return [(name, value) for name, values in request.query_params.lists() for value in values]


def _page_url(request: Request, **changes: int | None) -> str:
    """This request's URL with some query parameters replaced (None: removed)."""
    query = request.query_params.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = str(value)
    return request.build_absolute_uri(request.path) + "?" + urlencode(sorted(query.items()))


def _owner_id(request: Request) -> int:
    """The caller's user id (IsAuthenticated has let only authenticated users this far)."""
    user = request.user
    if user is None or user.pk is None:  # IsAuthenticated lets no one else this far
        raise NotAuthenticated()
    return int(user.pk)


def _todo_page(request: Request, query: ListQuery) -> tuple[dict[str, Any], str | None]:
    """The caller's `data` and next URL: a keyset page, or a numbered one with `page`."""
    todos = todo_list(owner_id=_owner_id(request), completed=query.completed, after=query.after)
    if query.page is None:
        rows = list(todos[: query.limit + 1])
        next_url = None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            next_url = _page_url(request, after=rows[-1].id, limit=query.limit, page_size=None)
        return {"results": TodoOutputSerializer(rows, many=True).data, "next": next_url}, next_url
    paginator = Paginator(todos, query.limit)
    try:
        page = paginator.page(query.page)
    except EmptyPage as exc:
        raise NotFoundError(
            f"Page {query.page} is past the last page ({paginator.num_pages}).",
            {"page": ["Past the last page."]},
        ) from exc
    next_url = _page_url(request, page=query.page + 1) if page.has_next() else None
    previous_url = _page_url(request, page=query.page - 1) if page.has_previous() else None
    data = {
        "count": paginator.count,
        "next": next_url,
        "previous": previous_url,
        "results": TodoOutputSerializer(list(page.object_list), many=True).data,
    }
    return data, next_url


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


def _parse_command_id(raw: str) -> uuid.UUID:
    """Turn a URL segment into a command id: a UUID in its 8-4-4-4-12 form, else a 404."""
    try:
        parsed = uuid.UUID(raw)
    except ValueError:
        parsed = None
    # uuid.UUID also reads braces, a `urn:uuid:` prefix and bare hex; format `uuid` does not.
    if parsed is None or str(parsed) != raw.lower():
        raise NotFoundError(
            f"No command {raw!r}: command ids are UUIDs.", {"command_id": ["Must be a UUID."]}
        )
    return parsed


def _validated(request: Request, *, partial: bool = False) -> dict[str, Any]:
    return todo_input_validate(request.data, partial=partial)


class TodoListCreateApi(APIView):
    """`/api/todos/`: list from PostgreSQL, or queue a create."""

    @extend_schema(
        operation_id="todos_list",
        description=(
            "Each parameter at most once; a query parameter not listed here is a 400. While more "
            'todos remain, the `Link` header names the next page (`rel="next"`).'
        ),
        parameters=[*LIST_PARAMETERS, NEXT_LINK_HEADER],
        responses={
            200: TODO_PAGE_SCHEMA,
            400: OpenApiResponse(
                ERROR_SCHEMA, "A query parameter out of its bounds, given twice, or unknown."
            ),
            404: OpenApiResponse(ERROR_SCHEMA, "`page` past the last page."),
            **UNAVAILABLE,
        },
    )
    def get(self, request: Request) -> Response:
        """List the caller's todos by ascending id, `limit` after `after` (or by `page`)."""
        data, next_url = _todo_page(request, list_query_parse(_query_pairs(request)))
        headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else None
        return success_response(data, "Todos retrieved", headers=headers)

    @extend_schema(
        operation_id="todos_create",
        request=TodoWrite,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            202: ACCEPTED_SCHEMA,
            409: OpenApiResponse(ERROR_SCHEMA, "Same key still in flight."),
            422: OpenApiResponse(ERROR_SCHEMA, "Key reused with another body."),
            **BODY_ERRORS,
            **UNAVAILABLE,
        },
    )
    def post(self, request: Request) -> Response:
        """Allocate an id and queue a create command; 202 once Kafka acknowledged it."""
        data = _validated(request)
        command_admission_check()
        owner_id = _owner_id(request)
        # META, not `request.headers`, which copies every header into a new mapping first.
        key = request.META.get(IDEMPOTENCY_META_KEY)
        if key is None:
            return _respond(_accepted(todo_create(owner_id=owner_id, **data)))
        stored = idempotent_call(
            key=idempotency_key_scope(owner_id=owner_id, key=idempotency_key_validate(key)),
            fingerprint=request_fingerprint(operation="todos.create", payload=request.data),
            promise=lambda: _accepted(todo_create_receipt(owner_id=owner_id)),
            fulfil=lambda promised: todo_create(
                owner_id=owner_id, **data, receipt=_receipt(promised)
            ),
        )
        return _respond(stored)


class TodoDetailApi(APIView):
    """`/api/todos/{id}/`: read from PostgreSQL, or queue an update or delete."""

    @extend_schema(
        operation_id="todos_retrieve",
        parameters=[TODO_ID_PARAMETER],
        responses={
            200: envelope_schema("TodoEnvelope", TodoOutputSerializer()),
            404: OpenApiResponse(ERROR_SCHEMA, "Not stored (yet), or another user's todo."),
            **UNAVAILABLE,
        },
    )
    def get(self, request: Request, todo_id: str) -> Response:
        """Return one of the caller's todos as stored in PostgreSQL."""
        pk = _parse_todo_id(todo_id)
        todo = todo_get(todo_id=pk, owner_id=_owner_id(request))
        if todo is None:
            raise NotFoundError(f"Todo {pk} not found (a create may still be pending).")
        return success_response(TodoOutputSerializer(todo).data, "Todo retrieved")

    @extend_schema(
        operation_id="todos_replace",
        parameters=[TODO_ID_PARAMETER],
        request=TodoWrite,
        responses={202: ACCEPTED_SCHEMA, **WRITE_ERRORS},
    )
    def put(self, request: Request, todo_id: str) -> Response:
        """Queue an update carrying every field (omitted optional fields take their defaults)."""
        pk = _parse_todo_id(todo_id)
        data = _validated(request)
        command_admission_check()
        return _respond(_accepted(todo_update(todo_id=pk, owner_id=_owner_id(request), data=data)))

    @extend_schema(
        operation_id="todos_partial_update",
        parameters=[TODO_ID_PARAMETER],
        request=TodoPatch,
        responses={202: ACCEPTED_SCHEMA, **WRITE_ERRORS},
    )
    def patch(self, request: Request, todo_id: str) -> Response:
        """Queue an update carrying only the fields sent."""
        pk = _parse_todo_id(todo_id)
        data = _validated(request, partial=True)
        command_admission_check()
        return _respond(_accepted(todo_update(todo_id=pk, owner_id=_owner_id(request), data=data)))

    @extend_schema(
        operation_id="todos_destroy",
        parameters=[TODO_ID_PARAMETER],
        request=None,
        responses={202: ACCEPTED_SCHEMA, **WRITE_ERRORS},
    )
    def delete(self, request: Request, todo_id: str) -> Response:
        """Queue a delete."""
        pk = _parse_todo_id(todo_id)
        command_admission_check()
        return _respond(_accepted(todo_delete(todo_id=pk, owner_id=_owner_id(request))))


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
            COMMAND_ID_PARAMETER,
        ],
        responses={
            200: envelope_schema("CommandStatusEnvelope", CommandStatusOutputSerializer()),
            404: OpenApiResponse(ERROR_SCHEMA, "Not a UUID, or another user's command."),
            **UNAVAILABLE,
        },
    )
    def get(self, request: Request, command_id: str) -> Response:
        """Return the outcome of one of the caller's commands, as the command agent recorded it."""
        parsed = _parse_command_id(command_id)
        outcome = todo_command_get(command_id=parsed)
        # Not yet claimed: "pending", as for any id. Claimed for another user: not the caller's.
        if outcome is not None and outcome.owner_id != _owner_id(request):
            raise NotFoundError(f"Command {parsed} not found.")
        status = _command_status(parsed, outcome)
        data = CommandStatusOutputSerializer(status).data
        return success_response(data, f"Command {data['status']}")
