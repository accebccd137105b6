"""Read API views through aiohttp's test client."""

from __future__ import annotations

import pytest
from faust.types import TP

from contracts.records import Position, Todo, parse_time
from streams.app import app
from streams.domain import Projection
from streams.monitoring.lag import PartitionLag
from streams.tables import todos_table
from tests.unit.web_read.tokens import CALLER


def _todo(todo_id: int, *, completed: bool = False) -> dict:
    return {
        "id": todo_id,
        "title": f"todo {todo_id}",
        "description": "",
        "completed": completed,
        "created_at": "2026-11-27T19:42:00.123456Z",
        "updated_at": "2026-11-27T19:42:00.123456Z",
    }


@pytest.mark.parametrize("path", ["/api/todos/", "/api/todos", "/todos/", "/todos"])
async def test_no_todos_is_an_empty_array_on_every_list_path(client, path):
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == []
    assert "Link" not in response.headers


async def test_the_list_is_in_seed_shape_ordered_by_id(client, read_model):
    read_model.todos = [_todo(3), _todo(1)]
    body = await (await client.get("/api/todos/")).json()
    assert [t["id"] for t in body] == [1, 3]
    assert set(body[0]) == {"id", "title", "description", "completed", "created_at", "updated_at"}


async def test_the_list_filters_by_completed(client, read_model):
    read_model.todos = [_todo(1), _todo(2, completed=True)]
    done = await (await client.get("/api/todos/?completed=true")).json()
    todo = await (await client.get("/api/todos/?completed=false")).json()
    assert [t["id"] for t in done] == [2]
    assert [t["id"] for t in todo] == [1]


async def test_the_list_paginates_by_key_with_a_next_link(client, read_model):
    read_model.todos = [_todo(i) for i in range(1, 6)]
    first = await client.get("/api/todos/?limit=2&completed=false")
    assert [t["id"] for t in await first.json()] == [1, 2]
    link = first.headers["Link"]
    assert link.endswith('>; rel="next"') and "after=2" in link and "completed=false" in link
    next_url = link[link.index("<") + 1 : link.index(">")]
    second = await client.get(next_url[next_url.index("/api/") :])
    assert [t["id"] for t in await second.json()] == [3, 4]
    last = await client.get("/api/todos/?limit=2&after=4")
    assert [t["id"] for t in await last.json()] == [5]
    assert "Link" not in last.headers


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=ten", "completed=maybe", "after=-1", "after=x"]
)
async def test_bad_list_parameters_are_a_400_with_a_detail(client, query):
    response = await client.get(f"/api/todos/?{query}")
    assert response.status == 400
    assert "detail" in await response.json()


def _project(monkeypatch, todo: Todo | None, todo_id: int = 42) -> None:
    """Store a projection in the table's (in-memory) store, as the CDC agent leaves it."""
    projection = Projection(todo=todo, position=Position(lsn=1, streamed=True, version=1))
    monkeypatch.setitem(todos_table.data, todo_id, projection.to_state())


@pytest.mark.parametrize("path", ["/api/todos/42/", "/api/todos/42", "/todos/42/", "/todos/42"])
async def test_a_todo_is_served_from_the_table_on_every_detail_path(client, monkeypatch, path):
    moment = parse_time("2026-11-27T19:42:00.123456Z")
    _project(monkeypatch, Todo(42, "Learn Kafka", "EDA", True, moment, moment, 2, owner_id=CALLER))
    response = await client.get(path)
    assert response.status == 200
    assert await response.json() == {
        "id": 42,
        "title": "Learn Kafka",
        "description": "EDA",
        "completed": True,
        "created_at": "2026-11-27T19:42:00.123456Z",
        "updated_at": "2026-11-27T19:42:00.123456Z",
    }


async def test_an_unknown_todo_is_a_404_with_drf_detail(client):
    response = await client.get("/api/todos/7/")
    assert response.status == 404
    assert await response.json() == {"detail": "Not found."}


def _owner(monkeypatch, *, here: bool) -> list[tuple[str, bytes]]:
    """Make this worker the active owner of every key's partition, or of none; record asks."""
    asked: list[tuple[str, bytes]] = []

    def key_partition(topic: str, key: bytes) -> TP:
        asked.append((topic, key))
        return TP(topic, 3)

    monkeypatch.setattr(app.producer, "key_partition", key_partition)
    monkeypatch.setattr(app.assignor, "is_active", lambda tp: here and tp.partition == 3)
    return asked


async def test_the_owner_answers_from_its_table_without_the_router(client, monkeypatch):
    moment = parse_time("2026-11-27T19:42:00.123456Z")
    _project(monkeypatch, Todo(42, "Learn Kafka", "EDA", True, moment, moment, 2, owner_id=CALLER))
    asked = _owner(monkeypatch, here=True)

    async def never(*args, **kwargs):
        raise AssertionError("routed a key this worker owns")

    monkeypatch.setattr(app.router, "route_req", never)
    response = await client.get("/api/todos/42/")
    assert response.status == 200
    assert (await response.json())["title"] == "Learn Kafka"
    # The partition is asked for the key's bytes on the table's changelog, as the router does.
    assert asked == [(todos_table.changelog_topic.get_topic_name(), b"42")]


async def test_a_todo_another_worker_owns_is_forwarded_by_the_router(client, monkeypatch):
    _project(
        monkeypatch, Todo(42, "held here too", created_at=None, updated_at=None, owner_id=CALLER)
    )
    _owner(monkeypatch, here=False)
    routed: list[tuple[str, str]] = []

    async def forward(table_name, key, web_driver, request):
        routed.append((table_name, key))
        return web_driver.bytes(b'{"from": "owner"}', content_type="application/json")

    monkeypatch.setattr(app.router, "route_req", forward)
    response = await client.get("/api/todos/42/")
    assert response.status == 200
    assert await response.json() == {"from": "owner"}
    assert routed == [("todos", "42")]


async def test_an_owner_without_the_todo_answers_404(client, monkeypatch):
    _owner(monkeypatch, here=True)
    response = await client.get("/api/todos/8/")
    assert response.status == 404
    assert await response.json() == {"detail": "Not found."}


async def test_a_deleted_todo_is_a_404(client, monkeypatch):
    _project(monkeypatch, None)
    assert (await client.get("/api/todos/42/")).status == 404


@pytest.mark.parametrize("todo_id", ["abc", "-1", "0", "1.5", "99999999999999999999"])
async def test_a_malformed_id_is_a_400_not_a_500(client, todo_id):
    response = await client.get(f"/api/todos/{todo_id}/")
    assert response.status == 400
    assert "detail" in await response.json()


async def test_an_unexpected_error_is_a_json_500_without_a_traceback(client, monkeypatch):
    def boom(todo_id, owner_id):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("web_read.views.get_public_todo", boom)
    response = await client.get("/api/todos/42/")
    assert response.status == 500
    body = await response.json()
    assert body == {"detail": "Internal server error."}


async def test_health_is_503_naming_what_is_wrong(client, read_model, monkeypatch):
    read_model.healthy = False
    monkeypatch.setattr(
        "web_read.health.consumer_status", lambda app: (False, {"state": "no partitions"})
    )
    monkeypatch.setattr("web_read.health.recovery_status", lambda app: (True, {}))
    for path in ("/health", "/health/"):
        response = await client.get(path)
        assert response.status == 503
        body = await response.json()
        assert body["problems"] == ["consumer", "mongodb"]


async def test_health_is_200_when_every_check_passes(client, monkeypatch):
    monkeypatch.setattr("web_read.health.consumer_status", lambda app: (True, {}))
    monkeypatch.setattr("web_read.health.recovery_status", lambda app: (True, {}))
    monkeypatch.setattr(
        "web_read.health.pipeline_lag",
        lambda app: ([PartitionLag("todos", 0, 9, 0)], [PartitionLag("changelog", 0, 0, 52)]),
    )
    response = await client.get("/health")
    assert response.status == 200
    body = await response.json()
    assert body["consumer_lag"] == {"todos[0]": 0}
    assert body["standby_or_changelog"] == {"changelog[0]": 52}


async def test_the_constant_view_returns_a_fixed_small_json_body(client):
    for path in ("/bench/constant", "/bench/constant/"):
        response = await client.get(path)
        assert response.status == 200
        assert response.content_type == "application/json"
        assert await response.json() == {"status": "ok"}


async def test_a_list_query_over_its_time_limit_is_a_503_saying_the_read_model_is_busy(
    client, read_model, monkeypatch
):
    from pymongo.errors import ExecutionTimeout

    async def too_slow(**_kwargs):
        raise ExecutionTimeout("operation exceeded time limit", code=50)

    monkeypatch.setattr(read_model, "list_page", too_slow)
    response = await client.get("/api/todos/")
    assert response.status == 503
    assert await response.json() == {"detail": "The read model is busy: retry later."}


def test_the_constant_probe_is_left_out_of_the_read_api_unless_asked_for():
    from web_read.views import routes

    assert not [path for path, _, _ in routes() if path.startswith("/bench")]
    assert {path for path, _, _ in routes(bench_probe=True) if path.startswith("/bench")} == {
        "/bench/constant",
        "/bench/constant/",
    }
