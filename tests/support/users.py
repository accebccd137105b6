"""Users for integration tests: sign up on the write API and hold the tokens it issued.

The write API answers in its envelope `{"status", "status_code", "data", "message"}`:
`POST /api/auth/register/` -> 201, data `{"id", "username"}`;
`POST /api/auth/token/` -> 200, data `{"access", "refresh"}`.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import requests

from contracts import auth

REGISTER_PATH = "/api/auth/register/"
TOKEN_PATH = "/api/auth/token/"
REFRESH_PATH = "/api/auth/token/refresh/"


class SignUpError(AssertionError):
    """The write API refused to register or sign in a test user; the message has its answer."""


@dataclass(frozen=True)
class TestUser:
    """A registered user and the tokens the write API issued for it."""

    __test__ = False  # not a pytest test class despite its name

    username: str
    password: str
    user_id: int
    access: str
    refresh: str

    def headers(self) -> dict[str, str]:
        """Return the Authorization header that authenticates as this user."""
        return {"Authorization": f"Bearer {self.access}"}


def _data(response: requests.Response, expected_status: int, what: str) -> dict[str, Any]:
    if response.status_code != expected_status:
        raise SignUpError(f"{what}: {response.status_code} {response.text}")
    data: dict[str, Any] = response.json()["data"]
    return data


def obtain_tokens(cud_url: str, username: str, password: str) -> tuple[str, str]:
    """Sign in with a password and return (access, refresh)."""
    response = requests.post(
        cud_url.rstrip("/") + TOKEN_PATH,
        json={"username": username, "password": password},
        timeout=30,
    )
    data = _data(response, 200, f"sign in as {username}")
    return str(data["access"]), str(data["refresh"])


def register_user(
    cud_url: str, *, username: str | None = None, password: str | None = None
) -> TestUser:
    """Register a user on the write API (random name when None) and sign it in."""
    username = username or f"user-{secrets.token_hex(6)}"
    # Random letters and digits: long enough for Django's validators and unlike any username.
    password = password or f"pw-{secrets.token_urlsafe(18)}"
    response = requests.post(
        cud_url.rstrip("/") + REGISTER_PATH,
        json={"username": username, "password": password},
        timeout=30,
    )
    created = _data(response, 201, f"register {username}")
    access, refresh = obtain_tokens(cud_url, username, password)
    return TestUser(
        username=username,
        password=password,
        user_id=int(created["id"]),
        access=access,
        refresh=refresh,
    )


def access_claims(owner: int, /, **changes: Any) -> dict[str, Any]:
    """The claims of a valid access token for this user; a change of None drops that claim."""
    now = int(time.time())
    payload: dict[str, Any] = {
        auth.TOKEN_TYPE_CLAIM: auth.ACCESS_TOKEN_TYPE,
        "exp": now + 300,
        "iat": now,
        "jti": uuid.uuid4().hex,
        auth.USER_ID_CLAIM: str(owner),
        "iss": auth.ISSUER,
    }
    payload.update(changes)
    return {name: value for name, value in payload.items() if value is not None}


def insert_users(conn: psycopg.Connection[Any], count: int, *, prefix: str = "sql") -> list[int]:
    """Insert `count` active Django users straight into `auth_user` (no password); their ids."""
    rows = conn.execute(
        "INSERT INTO auth_user (username, password, is_superuser, first_name, last_name,"
        " email, is_staff, is_active, date_joined)"
        " SELECT u, '!', false, '', '', '', false, true, now() FROM unnest(%s::text[]) AS u"
        " RETURNING id",
        [[f"{prefix}-{uuid.uuid4().hex[:12]}" for _ in range(count)]],
    ).fetchall()
    return [int(row[0]) for row in rows]
