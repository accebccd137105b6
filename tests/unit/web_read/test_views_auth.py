"""Who may read what on the read API: tokens on the todo routes, each caller's own todos."""

from __future__ import annotations

import logging

import pytest
from faust.types import TP

from contracts.records import Position, Todo
from streams.app import app
from streams.domain import Projection
from streams.tables import todos_table
from streams.users import DEACTIVATED, UserChange
from tests.unit.web_read.tokens import CALLER

TODO_PATHS = ["/api/todos/", "/todos/", "/api/todos/42/", "/todos/42"]
OPEN_PATHS = [
    "/health",
    "/api/schema/",
    "/api/docs/",
    "/api/docs/assets/swagger-ui.css",
    "/bench/constant",
]
OTHER = 8


def _todo(todo_id: int, owner_id: int) -> dict:
    return {
        "id": todo_id,
        "title": f"todo {todo_id} of {owner_id}",
        "description": "",
        "completed": False,
        "created_at": "2026-11-27T19:42:00.123456Z",
        "updated_at": "2026-11-27T19:42:00.123456Z",
        "owner_id": owner_id,
    }


def _store(monkeypatch, todo_id: int, owner_id: int) -> None:
    todo = Todo(todo_id, f"todo of {owner_id}", created_at=None, updated_at=None, owner_id=owner_id)
    projection = Projection(todo=todo, position=Position(lsn=1, streamed=True, version=1))
    monkeypatch.setitem(todos_table.data, todo_id, projection.to_state())


@pytest.mark.parametrize("path", TODO_PATHS)
async def test_no_token_is_a_401_with_a_bearer_challenge(anonymous, path):
    response = await anonymous.get(path)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="todo-eda"'
    assert await response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


@pytest.mark.parametrize("path", TODO_PATHS)
async def test_a_bad_token_is_a_401_saying_why_in_body_and_challenge(anonymous, tokens, path):
    token = tokens.access(token_type="refresh")
    response = await anonymous.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="todo-eda", error="invalid_token", error_description="not an access token"'
    )
    assert await response.json() == {
        "detail": "Invalid token: not an access token.",
        "code": "token_not_valid",
    }


async def test_a_token_is_checked_before_the_query(anonymous):
    response = await anonymous.get("/api/todos/?limit=zero")
    assert response.status == 401


@pytest.mark.parametrize("path", OPEN_PATHS)
async def test_health_schema_docs_and_the_probe_need_no_token(anonymous, monkeypatch, path):
    monkeypatch.setattr("web_read.health.consumer_status", lambda app: (True, {}))
    monkeypatch.setattr("web_read.health.recovery_status", lambda app: (True, {}))
    monkeypatch.setattr("web_read.health.pipeline_lag", lambda app: ([], []))
    response = await anonymous.get(path)
    assert response.status == 200


async def test_the_list_holds_only_the_callers_todos(client, read_model):
    read_model.todos = [_todo(1, CALLER), _todo(2, OTHER), _todo(3, CALLER)]
    response = await client.get("/api/todos/")
    assert [t["id"] for t in await response.json()] == [1, 3]
    assert read_model.asked_owners == [CALLER]


async def test_another_user_sees_only_their_own_list(client, read_model, tokens):
    read_model.todos = [_todo(1, CALLER), _todo(2, OTHER)]
    response = await client.get("/api/todos/", headers=tokens.header(OTHER))
    assert [t["id"] for t in await response.json()] == [2]


async def test_a_user_id_header_from_the_network_changes_nobody(client, read_model):
    read_model.todos = [_todo(1, CALLER), _todo(2, OTHER)]
    response = await client.get(
        "/api/todos/", headers={"X-User-Id": str(OTHER), "X-Forwarded-User": str(OTHER)}
    )
    assert [t["id"] for t in await response.json()] == [1]


async def test_another_users_todo_is_the_same_404_as_a_missing_one(client, monkeypatch):
    _store(monkeypatch, 42, OTHER)
    theirs = await client.get("/api/todos/42/")
    missing = await client.get("/api/todos/43/")
    assert theirs.status == missing.status == 404
    assert await theirs.json() == await missing.json() == {"detail": "Not found."}


async def test_the_owner_of_a_todo_reads_it(client, monkeypatch, tokens):
    _store(monkeypatch, 42, OTHER)
    response = await client.get("/api/todos/42/", headers=tokens.header(OTHER))
    assert response.status == 200
    assert (await response.json())["title"] == f"todo of {OTHER}"


def _owned_elsewhere(monkeypatch) -> None:
    monkeypatch.setattr(app.producer, "key_partition", lambda topic, key: TP(topic, 3))
    monkeypatch.setattr(app.assignor, "is_active", lambda tp: False)


async def test_a_routed_request_carries_the_callers_own_token(client, monkeypatch, tokens):
    _owned_elsewhere(monkeypatch)
    forwarded: list[str] = []

    async def forward(table_name, key, web_driver, request):
        forwarded.append(request.headers["Authorization"])
        return web_driver.bytes(b"{}", content_type="application/json")

    monkeypatch.setattr(app.router, "route_req", forward)
    header = tokens.header(OTHER)
    await client.get("/api/todos/42/", headers=header)
    assert forwarded == [header["Authorization"]]


async def test_a_routed_request_with_a_bad_token_is_refused_before_it_is_forwarded(
    anonymous, monkeypatch
):
    _owned_elsewhere(monkeypatch)

    async def never(*args, **kwargs):
        raise AssertionError("forwarded an unauthenticated request")

    monkeypatch.setattr(app.router, "route_req", never)
    response = await anonymous.get("/api/todos/42/", headers={"Authorization": "Bearer x.y.z"})
    assert response.status == 401


async def test_the_owners_401_keeps_a_challenge_through_the_router(client, monkeypatch):
    _owned_elsewhere(monkeypatch)

    async def owner_refuses(table_name, key, web_driver, request):
        # What faust's router returns: the owner's body and status, none of its headers.
        return web_driver.text(
            '{"detail": "Invalid token: user deactivated."}',
            content_type="application/json",
            status=401,
        )

    monkeypatch.setattr(app.router, "route_req", owner_refuses)
    response = await client.get("/api/todos/42/")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith(
        'Bearer realm="todo-eda", error="invalid_token"'
    )
    assert (await response.json())["detail"] == "Invalid token: user deactivated."


async def test_a_deactivated_users_token_is_refused_on_every_todo_route(client, deny_list):
    deny_list.apply(UserChange(CALLER, DEACTIVATED))
    for path in TODO_PATHS:
        response = await client.get(path)
        assert response.status == 401
        assert (await response.json())["detail"] == "Invalid token: user deactivated."


async def test_no_log_line_holds_the_token(anonymous, tokens, caplog):
    caplog.set_level(logging.DEBUG)
    good, bad = tokens.access(), tokens.access(iss="elsewhere")
    for token in (good, bad, "not-a-token"):
        await anonymous.get("/api/todos/", headers={"Authorization": f"Bearer {token}"})
    for token in (good, bad, "not-a-token"):
        assert token not in caplog.text


async def test_health_reports_the_deny_list_and_stays_200_while_it_catches_up(
    anonymous, deny_list, monkeypatch
):
    monkeypatch.setattr("web_read.health.consumer_status", lambda app: (True, {}))
    monkeypatch.setattr("web_read.health.recovery_status", lambda app: (True, {}))
    monkeypatch.setattr("web_read.health.pipeline_lag", lambda app: ([], []))
    deny_list.apply(UserChange(OTHER, DEACTIVATED))
    response = await anonymous.get("/health")
    assert response.status == 200
    assert (await response.json())["users"] == {
        "state": "catching up",
        "refused_users": 1,
        "skipped_records": 0,
    }
    deny_list.caught_up = True
    assert (await (await anonymous.get("/health")).json())["users"]["state"] == "caught up"
