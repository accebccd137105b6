"""Sign-up, sign-in and refresh over HTTP, with the user table and shared cache replaced."""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client
from rest_framework_simplejwt import serializers as simplejwt_serializers

from cud_api.accounts import apis, throttling
from cud_api.accounts.backend import token_backend
from cud_api.accounts.tokens import AccessToken
from tests.unit.cud_api.conftest import ALICE_ID

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client():
    return Client(HTTP_HOST="localhost", raise_request_exception=False)


@pytest.fixture(autouse=True)
def cache(monkeypatch):
    """A private in-memory cache in place of the PostgreSQL one the workers share."""
    shared = LocMemCache("unit-throttle", {})
    shared.clear()
    monkeypatch.setattr(throttling, "caches", {"shared": shared})
    return shared


@pytest.fixture(autouse=True)
def passwords(monkeypatch, users):
    """Django's authenticate() over the fake users, all with PASSWORD."""
    tried = []

    def authenticate(request=None, username=None, password=None):
        tried.append(username)
        for user in users.rows.values():
            if user.username == username and password == PASSWORD and user.is_active:
                return user
        return None

    monkeypatch.setattr(simplejwt_serializers, "authenticate", authenticate)
    return tried


def sign_in(client, username="alice", password=PASSWORD, **extra):
    return client.post(
        "/api/auth/token/",
        {"username": username, "password": password},
        content_type="application/json",
        **extra,
    )


def test_sign_in_returns_both_tokens_in_the_envelope(client):
    response = sign_in(client)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["status_code"], body["message"]) == ("success", 200, "Signed in")
    assert set(body["data"]) == {"access", "refresh"}
    access = token_backend().decode(body["data"]["access"])
    refresh = token_backend().decode(body["data"]["refresh"])
    assert (access["token_type"], refresh["token_type"]) == ("access", "refresh")
    assert access["user_id"] == refresh["user_id"] == str(ALICE_ID)
    lifetime = access["exp"] - access["iat"]
    assert lifetime == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 24 * 3600


def test_wrong_password_is_401_in_the_envelope(client):
    response = sign_in(client, password="wrong")
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error"
    assert body["message"] == "No active account found with the given credentials"
    assert "credentials" in body["errors"]
    # A failed sign-in is not a refused bearer token: the challenge names no token error.
    assert response["WWW-Authenticate"] == 'Bearer realm="todo-eda"'


def test_sign_in_with_a_missing_field_is_400(client):
    response = client.post(
        "/api/auth/token/", {"username": "alice"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "password" in response.json()["errors"]


def test_failed_sign_ins_are_throttled_with_retry_after(client, passwords):
    for _ in range(5):
        assert sign_in(client, password="wrong").status_code == 401
    response = sign_in(client)  # even the right password, until the window passes
    assert response.status_code == 429
    assert response.json()["status_code"] == 429
    assert 0 < int(response["Retry-After"]) <= 60
    # The throttle answers before the password is checked (no sixth hashing).
    assert len(passwords) == 5


def test_successful_sign_ins_are_never_throttled(client):
    for _ in range(12):
        assert sign_in(client).status_code == 200


def test_throttle_is_per_username_and_per_client_address(client):
    for _ in range(5):
        sign_in(client, password="wrong")
    assert sign_in(client).status_code == 429
    assert sign_in(client, username="bob").status_code == 200
    assert sign_in(client, REMOTE_ADDR="10.0.0.9").status_code == 200


def test_throttle_rate_comes_from_the_setting(client, monkeypatch):
    monkeypatch.setattr(settings, "CUD_API_LOGIN_FAILURES_RATE", "2/hour")
    for _ in range(2):
        sign_in(client, password="wrong")
    response = sign_in(client)
    assert response.status_code == 429
    assert 3500 < int(response["Retry-After"]) <= 3600


def test_refresh_returns_a_new_access_token(client, monkeypatch, users):
    monkeypatch.setattr(
        "cud_api.accounts.services.User.objects.filter",
        lambda pk: type("Q", (), {"first": lambda self: users.rows.get(int(pk))})(),
    )
    refresh = sign_in(client).json()["data"]["refresh"]
    response = client.post(
        "/api/auth/token/refresh/", {"refresh": refresh}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["message"] == "Token refreshed"
    access = token_backend().decode(response.json()["data"]["access"])
    assert access["token_type"] == "access" and access["user_id"] == str(ALICE_ID)
    users.rows[ALICE_ID].is_active = False
    refused = client.post(
        "/api/auth/token/refresh/", {"refresh": refresh}, content_type="application/json"
    )
    assert refused.status_code == 401
    assert refused.json()["message"] == "User is inactive"


def test_refresh_with_an_access_token_is_401(client, users):
    access = str(AccessToken.for_user(users.rows[ALICE_ID]))
    response = client.post(
        "/api/auth/token/refresh/", {"refresh": access}, content_type="application/json"
    )
    assert response.status_code == 401
    assert response.json()["message"] == "Token has wrong type"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.fixture
def registered(monkeypatch):
    made = []

    def user_register(*, username, password):
        made.append((username, password))
        return User(pk=99, username=username)

    monkeypatch.setattr(apis, "user_register", user_register)
    return made


def register(client, body):
    return client.post("/api/auth/register/", body, content_type="application/json")


def test_register_answers_201_with_the_id_and_username(client, registered):
    response = register(client, {"username": "carol", "password": PASSWORD})
    assert response.status_code == 201
    assert response.json() == {
        "status": "success",
        "status_code": 201,
        "data": {"id": 99, "username": "carol"},
        "message": "User registered",
    }
    assert registered == [("carol", PASSWORD)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "carol", "password": "short"}, "password"),
        ({"username": "carol", "password": "12345678901"}, "password"),
        ({"username": "carol", "password": "password123"}, "password"),
        ({"username": "carolina", "password": "carolina1"}, "password"),
        ({"username": "bad name!", "password": PASSWORD}, "username"),
        ({"username": "x" * 151, "password": PASSWORD}, "username"),
        ({"password": PASSWORD}, "username"),
        ({"username": "carol", "password": PASSWORD, "is_staff": True}, "is_staff"),
    ],
)
def test_register_refuses_bad_input_with_field_errors(client, registered, body, field):
    response = register(client, body)
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert registered == []


def test_register_refuses_a_json_array(client, registered):
    assert register(client, [1, 2]).status_code == 400


def test_register_off_is_403_with_a_clear_message(client, registered, monkeypatch):
    monkeypatch.setattr(settings, "CUD_API_REGISTRATION", False)
    response = register(client, {"username": "carol", "password": PASSWORD})
    assert response.status_code == 403
    body = response.json()
    assert body["message"] == "Self-service registration is turned off on this server."
    assert registered == []


def test_a_staff_users_tokens_carry_the_staff_claim_and_others_do_not(client, users):
    assert "staff" not in token_backend().decode(sign_in(client).json()["data"]["access"])
    users.rows[ALICE_ID].is_staff = True
    data = sign_in(client).json()["data"]
    assert token_backend().decode(data["access"])["staff"] is True
    assert token_backend().decode(data["refresh"])["staff"] is True


def test_a_refresh_gives_the_staff_claim_as_the_user_is_now(client, monkeypatch, users):
    monkeypatch.setattr(
        "cud_api.accounts.services.User.objects.filter",
        lambda pk: type("Q", (), {"first": lambda self: users.rows.get(int(pk))})(),
    )
    users.rows[ALICE_ID].is_staff = True
    refresh = sign_in(client).json()["data"]["refresh"]

    def refreshed() -> dict:
        response = client.post(
            "/api/auth/token/refresh/", {"refresh": refresh}, content_type="application/json"
        )
        return token_backend().decode(response.json()["data"]["access"])

    assert refreshed()["staff"] is True
    users.rows[ALICE_ID].is_staff = False
    assert "staff" not in refreshed()
