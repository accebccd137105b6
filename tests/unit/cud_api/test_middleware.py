"""Sessions, CSRF cookies, users and messages are the admin's: the API's requests skip them."""

import uuid

import pytest
from django.test import Client

from cud_api.todos import apis
from cud_api.todos.services import CommandReceipt
from tests.unit.cud_api.conftest import ALICE_ID, bearer


@pytest.fixture
def client():
    return Client(HTTP_HOST="localhost", raise_request_exception=False)


def test_an_api_request_gets_no_session_user_or_messages(client, monkeypatch, users):
    seen = {}

    def create(**kwargs):
        return CommandReceipt(todo_id=42, command_id=uuid.uuid4(), operation="create")

    original = apis.TodoListCreateApi.post

    def post(self, request):
        django_request = request._request
        seen["session"] = hasattr(django_request, "session")
        seen["messages"] = hasattr(django_request, "_messages")
        # DRF's own user (from the token), not AuthenticationMiddleware's lazy one.
        user = django_request.__dict__.get("user", "unset")
        seen["user"] = (type(user).__name__, getattr(user, "pk", None))
        return original(self, request)

    monkeypatch.setattr(apis, "todo_create", create)
    monkeypatch.setattr(apis.TodoListCreateApi, "post", post)
    response = client.post(
        "/api/todos/",
        {"title": "x"},
        content_type="application/json",
        **bearer(users.rows[ALICE_ID]),
    )
    assert response.status_code == 202
    assert seen == {"session": False, "user": ("User", ALICE_ID), "messages": False}
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")


def test_the_admin_login_page_gets_a_csrf_cookie_and_a_user(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    assert response.wsgi_request.user.is_anonymous
    assert hasattr(response.wsgi_request, "session")


def test_the_admin_only_middleware_satisfy_the_admins_system_checks():
    from django.contrib.admin.checks import check_dependencies

    assert [error.id for error in check_dependencies()] == []
