"""Health, OpenAPI schema and docs (offline), admin."""

import re


def test_health_reports_each_dependency_up(api):
    response = api.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["data"]["postgres"]["status"] == "up"
    assert body["data"]["kafka"]["status"] == "up"
    assert body["data"]["kafka"]["partitions"] >= 1
    assert api.get("/health").status_code == 200


def test_openapi_schema_documents_the_api(api):
    response = api.get("/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/todos/", "/api/todos/{todo_id}/", "/api/commands/{command_id}/"} <= set(
        schema["paths"]
    )
    assert set(schema["paths"]["/api/todos/{todo_id}/"]) >= {"get", "put", "patch", "delete"}


def test_swagger_ui_is_served_with_local_assets_only(api):
    page = api.get("/api/docs/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets
    assert not [a for a in assets if a.startswith(("http://", "https://", "//"))]
    for asset in assets:
        if asset.startswith("/static/"):
            assert api.get(asset).status_code == 200, asset


def test_admin_login_page_is_served(api):
    page = api.get("/admin/login/")
    assert page.status_code == 200
    assert "csrfmiddlewaretoken" in page.text
    css = re.findall(r'href="(/static/admin/[^"]+\.css)"', page.text)
    assert css and api.get(css[0]).status_code == 200


def csrf_token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_admin_edit_bumps_version_and_updated_at_and_can_change_the_owner(
    api, pg, stack_env, user, other_user
):
    import os
    import subprocess
    import sys
    import uuid

    import requests

    username, password = f"admin-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    env = {**os.environ, **stack_env, "DJANGO_SUPERUSER_PASSWORD": password}
    env["DJANGO_SETTINGS_MODULE"] = "cud_api.config.settings"
    subprocess.run(
        [
            *(sys.executable, "-m", "django", "createsuperuser", "--noinput"),
            *("--username", username, "--email", f"{username}@example.com"),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    todo_id, before = pg.execute(
        "INSERT INTO todos (title, owner_id) VALUES ('admin me', %s) RETURNING id, updated_at",
        [user.user_id],
    ).fetchone()
    try:
        browser = requests.Session()
        base = api.base_url
        login = browser.get(f"{base}/admin/login/")
        done = browser.post(
            f"{base}/admin/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": csrf_token(login.text),
                "next": "/admin/",
            },
            allow_redirects=False,
        )
        assert done.status_code == 302, done.text[:500]
        change = browser.get(f"{base}/admin/todos/todo/{todo_id}/change/")
        assert change.status_code == 200
        assert user.username in change.text  # the owner is shown
        saved = browser.post(
            f"{base}/admin/todos/todo/{todo_id}/change/",
            data={
                "csrfmiddlewaretoken": csrf_token(change.text),
                "owner": str(user.user_id),
                "title": "admin edited",
                "description": "",
                "completed": "on",
                "_save": "Save",
            },
            allow_redirects=False,
        )
        assert saved.status_code == 302, saved.text[:500]
        title, completed, version, after = pg.execute(
            "SELECT title, completed, version, updated_at FROM todos WHERE id = %s", [todo_id]
        ).fetchone()
        assert (title, completed, version) == ("admin edited", True, 2)
        assert after > before
        # Staff may hand a todo to another user; the list filters by owner.
        change = browser.get(f"{base}/admin/todos/todo/{todo_id}/change/")
        moved = browser.post(
            f"{base}/admin/todos/todo/{todo_id}/change/",
            data={
                "csrfmiddlewaretoken": csrf_token(change.text),
                "owner": str(other_user.user_id),
                "title": "admin edited",
                "description": "",
                "completed": "on",
                "_save": "Save",
            },
            allow_redirects=False,
        )
        assert moved.status_code == 302, moved.text[:500]
        assert pg.execute(
            "SELECT owner_id, version FROM todos WHERE id = %s", [todo_id]
        ).fetchone() == (other_user.user_id, 3)
        listed = browser.get(f"{base}/admin/todos/todo/?owner__id__exact={other_user.user_id}")
        assert listed.status_code == 200 and "admin edited" in listed.text
    finally:
        pg.execute("DELETE FROM todos WHERE id = %s", [todo_id])
        pg.execute(
            "DELETE FROM django_admin_log WHERE user_id IN "
            "(SELECT id FROM auth_user WHERE username = %s)",
            [username],
        )
        pg.execute("DELETE FROM auth_user WHERE username = %s", [username])
