"""Two users on the real write API: each reads only their own rows, changes none of the other's."""

import subprocess
import sys
import uuid

import pytest
import requests


@pytest.fixture
def rows(pg, user, other_user):
    """Two todos of `user` (A) and one of `other_user` (B), inserted as the command agent would."""
    inserted = pg.execute(
        "INSERT INTO todos (title, description, completed, owner_id) VALUES"
        " ('A one', 'a', false, %(a)s), ('A two', '', true, %(a)s), ('B one', 'b', false, %(b)s)"
        " RETURNING id",
        {"a": user.user_id, "b": other_user.user_id},
    ).fetchall()
    ids = [row[0] for row in inserted]
    yield {"a": ids[:2], "b": ids[2:]}
    pg.execute("DELETE FROM todos WHERE id = ANY(%s)", [ids])


def every_id(api, query=""):
    """Every todo id the caller can list, following `after` to the end."""
    found, after = [], 0
    while True:
        response = api.get(f"/api/todos/?limit=1000&after={after}{query}")
        assert response.status_code == 200, response.text
        page = [todo["id"] for todo in response.json()["data"]["results"]]
        found += page
        if not response.json()["data"]["next"]:
            return found
        after = page[-1]


def test_each_user_lists_only_their_own_todos(api, other_api, rows):
    mine, theirs = every_id(api), every_id(other_api)
    assert set(rows["a"]) <= set(mine) and not set(rows["b"]) & set(mine)
    assert set(rows["b"]) <= set(theirs) and not set(rows["a"]) & set(theirs)
    assert rows["a"][1] in every_id(api, "&completed=true")
    numbered = api.get("/api/todos/?page=1&page_size=1000").json()["data"]
    assert not set(rows["b"]) & {todo["id"] for todo in numbered["results"]}
    assert numbered["count"] == len(mine)


def test_another_users_todo_by_id_is_the_same_404_as_a_missing_one(api, other_api, rows, pg):
    b_todo = rows["b"][0]
    refused = api.get(f"/api/todos/{b_todo}/")
    assert refused.status_code == 404
    assert refused.json()["message"] == f"Todo {b_todo} not found (a create may still be pending)."
    assert other_api.get(f"/api/todos/{b_todo}/").json()["data"]["title"] == "B one"


def test_b_changes_nothing_of_as_todo(api, other_api, rows, pg, commands):
    a_todo = rows["a"][0]
    before = pg.execute("SELECT * FROM todos WHERE id = %s", [a_todo]).fetchone()
    answers = [
        other_api.put(f"/api/todos/{a_todo}/", json={"title": "B was here"}),
        other_api.patch(f"/api/todos/{a_todo}/", json={"completed": True}),
        other_api.patch(f"/todos/{a_todo}", json={"title": "B again"}),
        other_api.delete(f"/api/todos/{a_todo}/"),
    ]
    for response in answers:
        assert response.status_code == 404, response.text
        # Word for word what an id nobody allocated gets: nothing tells A's todo exists.
        assert response.json()["message"] == f"Todo {a_todo} does not exist."
    commands.read_to_end()
    assert commands.for_todo(a_todo) == []
    assert pg.execute("SELECT * FROM todos WHERE id = %s", [a_todo]).fetchone() == before
    # A still may.
    assert api.patch(f"/api/todos/{a_todo}/", json={"completed": True}).status_code == 202


def test_commands_carry_the_callers_id_and_a_body_naming_an_owner_is_400(
    other_api, other_user, user, commands
):
    created = other_api.post("/api/todos/", json={"title": "B's own"})
    assert created.status_code == 202
    record = commands.wait_for_command(created.json()["data"]["command_id"])
    assert record.value["owner_id"] == other_user.user_id
    for field in ("owner_id", "owner"):
        response = other_api.post("/api/todos/", json={"title": "x", field: user.user_id})
        assert response.status_code == 400
        assert field in response.json()["errors"]


def test_a_command_status_is_shown_only_to_its_owner(api, other_api, pg, user):
    command_id = uuid.uuid4()
    pg.execute(
        "INSERT INTO todo_commands (command_id, todo_id, operation, status, owner_id)"
        " VALUES (%s, 5, 'create', 'applied', %s)",
        [command_id, user.user_id],
    )
    try:
        assert api.get(f"/api/commands/{command_id}/").json()["data"]["status"] == "applied"
        assert other_api.get(f"/api/commands/{command_id}/").status_code == 404
        # Not claimed yet: pending for anyone, as before owners.
        pending = other_api.get(f"/api/commands/{uuid.uuid4()}/")
        assert pending.json()["data"]["status"] == "pending"
    finally:
        pg.execute("DELETE FROM todo_commands WHERE command_id = %s", [command_id])


def test_an_idempotency_key_is_per_user(api, other_api):
    key = f"shared-{uuid.uuid4()}"
    body = {"title": "same key"}
    first = api.post("/api/todos/", json=body, headers={"Idempotency-Key": key})
    other = other_api.post("/api/todos/", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == other.status_code == 202
    assert "Idempotent-Replayed" not in other.headers
    assert other.json()["data"] != first.json()["data"]
    again = api.post("/api/todos/", json=body, headers={"Idempotency-Key": key})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_one_users_creates_get_consecutive_ids_from_their_block(other_api):
    ids = [
        other_api.post("/api/todos/", json={"title": f"dense {n}"}).json()["data"]["id"]
        for n in range(6)
    ]
    # Blocks are per (worker, owner): ids within one worker's block follow each other.
    assert len(set(ids)) == 6
    assert any(b - a == 1 for a, b in zip(sorted(ids), sorted(ids)[1:], strict=False))


def test_the_migration_gave_owners_a_constraint_and_an_index(pg):
    nullable = pg.execute(
        "SELECT is_nullable FROM information_schema.columns"
        " WHERE table_name = 'todos' AND column_name = 'owner_id'"
    ).fetchone()
    assert nullable == ("NO",)
    index = pg.execute(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'todos_owner_id_idx'"
    ).fetchone()
    assert index and "(owner_id, id)" in index[0]
    assert pg.execute("SELECT count(*) FROM auth_user WHERE username = 'demo'").fetchone() == (1,)


def manage(stack, *args):
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        env=stack.settings.process_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ensure_demo_user_and_issue_token(stack, anonymous, tmp_path):
    password_file = tmp_path / "demo-password"
    password = f"demo-{uuid.uuid4().hex}"
    password_file.write_text(password + "\n")
    made = manage(stack, "ensure_demo_user", "--password-file", str(password_file))
    assert made.returncode == 0, made.stderr
    assert password not in made.stdout + made.stderr
    again = manage(stack, "ensure_demo_user", "--password-file", str(password_file))
    assert again.returncode == 0 and "unchanged" in again.stdout, again.stdout + again.stderr
    signed_in = requests.post(
        anonymous.base_url + "/api/auth/token/",
        json={"username": "demo", "password": password},
        timeout=30,
    )
    assert signed_in.status_code == 200, signed_in.text
    issued = manage(stack, "issue_token", "demo")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    assert (
        anonymous.get("/api/todos/", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    unknown = manage(stack, "issue_token", f"nobody-{uuid.uuid4().hex[:6]}")
    assert unknown.returncode != 0 and "No active user" in unknown.stderr
