"""Reads of the system of record: todos from PostgreSQL, command outcomes, pagination."""

import uuid

import pytest

from tests.integration.cud_api.conftest import sequence_last_value


@pytest.fixture
def stored(pg, user):
    """Three of `user`'s todos inserted directly, as the command agent would have."""
    rows = pg.execute(
        "INSERT INTO todos (title, description, completed, owner_id) VALUES "
        "('read one', 'first', false, %(owner)s), ('read two', '', true, %(owner)s),"
        " ('read three', 'x', false, %(owner)s) "
        "RETURNING id",
        {"owner": user.user_id},
    ).fetchall()
    ids = [row[0] for row in rows]
    yield ids
    pg.execute("DELETE FROM todos WHERE id = ANY(%s)", [ids])


def test_get_returns_the_stored_todo(api, stored, pg):
    response = api.get(f"/api/todos/{stored[1]}/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["status_code"] == 200
    todo = body["data"]
    assert set(todo) == {
        "id",
        "title",
        "description",
        "completed",
        "created_at",
        "updated_at",
        "version",
    }
    assert (todo["id"], todo["title"], todo["description"], todo["completed"]) == (
        stored[1],
        "read two",
        "",
        True,
    )
    assert todo["version"] == 1
    assert todo["created_at"] and todo["updated_at"]


def test_get_without_prefix_or_slash(api, stored):
    assert api.get(f"/todos/{stored[0]}").json()["data"]["title"] == "read one"


def _path_of(url):
    """The path and query of an absolute URL the API handed out."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_list_pages_by_limit_and_after_following_link(api, stored):
    found = {}
    previous_id = 0
    path = "/api/todos/?limit=2"
    pages = 0
    while path and pages < 10_000:
        response = api.get(path)
        assert response.status_code == 200
        data = response.json()["data"]
        assert set(data) == {"results", "next"}
        assert len(data["results"]) <= 2
        for todo in data["results"]:
            assert todo["id"] > previous_id
            previous_id = todo["id"]
            found[todo["id"]] = todo["title"]
        link = response.links.get("next", {}).get("url")
        assert link == data["next"]
        path = _path_of(link) if link else None
        pages += 1
    assert [found[i] for i in stored] == ["read one", "read two", "read three"]


def test_list_starts_after_an_id_and_filters_by_state(api, stored):
    response = api.get(f"/api/todos/?after={stored[0]}&completed=true&limit=1000")
    ids = [todo["id"] for todo in response.json()["data"]["results"]]
    assert stored[1] in ids and stored[0] not in ids and stored[2] not in ids
    assert all(i > stored[0] for i in ids)


def test_list_by_page_number_still_works(api, stored):
    response = api.get("/api/todos/?page=1&page_size=1")
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"count", "next", "previous", "results"}
    assert data["count"] >= 3 and data["previous"] is None and len(data["results"]) == 1
    second = api.get(_path_of(data["next"])).json()["data"]
    assert second["results"][0]["id"] > data["results"][0]["id"]
    assert second["previous"]


def test_list_page_out_of_range_is_404(api):
    response = api.get("/api/todos/?page=999999999")
    assert response.status_code == 404
    assert response.json()["status"] == "error"


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "page_size=1001",
        "after=-1",
        "completed=yes",
        "completed=TRUE",
        "page=0",
        "limit=1&limit=2",
    ],
)
def test_list_parameter_out_of_bounds_is_400(api, query):
    response = api.get(f"/api/todos/?{query}")
    assert response.status_code == 400
    assert response.json()["errors"].keys() == {query.split("=")[0]}


def test_allocated_id_without_a_row_yet_is_404_on_get(api, pg):
    allocated = pg.execute("SELECT nextval(pg_get_serial_sequence('todos', 'id'))").fetchone()[0]
    response = api.get(f"/api/todos/{allocated}/")
    assert response.status_code == 404
    assert "pending" in response.json()["message"]


def test_unknown_command_is_pending(api):
    command_id = str(uuid.uuid4())
    response = api.get(f"/api/commands/{command_id}/")
    assert response.status_code == 200
    assert response.json()["data"] == {
        "command_id": command_id,
        "status": "pending",
        "todo_id": None,
        "operation": None,
        "reason": None,
        "applied_at": None,
    }


@pytest.mark.parametrize(
    ("status", "reason"), [("applied", None), ("rejected", "todo 5 does not exist")]
)
def test_recorded_command_outcome_is_reported(api, pg, user, status, reason):
    command_id = uuid.uuid4()
    pg.execute(
        "INSERT INTO todo_commands (command_id, todo_id, operation, status, reason, owner_id) "
        "VALUES (%s, 5, 'update', %s, %s, %s)",
        [command_id, status, reason, user.user_id],
    )
    try:
        response = api.get(f"/commands/{command_id}")
        assert response.status_code == 200
        data = response.json()["data"]
        assert data["status"] == status
        assert data["reason"] == reason
        assert (data["todo_id"], data["operation"]) == (5, "update")
        assert data["applied_at"]
        assert response.json()["message"] == f"Command {status}"
    finally:
        pg.execute("DELETE FROM todo_commands WHERE command_id = %s", [command_id])


def test_sequence_moves_only_for_creates(api, pg):
    before = sequence_last_value(pg)
    api.get("/api/todos/")
    assert sequence_last_value(pg) == before


def test_an_unknown_list_parameter_is_400_as_on_the_read_api(api):
    response = api.get("/api/todos/?colour=red")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["query"]
    assert "colour" in response.json()["message"]
