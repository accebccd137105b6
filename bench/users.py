"""The benchmark's own user: signed up on the write API, its access token renewed before expiry.

Every request the load generators send carries this user's token, and every todo the bench
writes or bulk-loads is this user's, so the list figures are one owner's pages. A generator
process gets the token in its environment (TOKEN_VARIABLE), never on its command line.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests

REGISTER_PATH = "/api/auth/register/"
TOKEN_PATH = "/api/auth/token/"  # noqa: S105 (a URL path, not a secret)
TOKEN_VARIABLE = "BENCH_ACCESS_TOKEN"  # noqa: S105 (a variable name, not a secret)
# A token must outlive what a run sits through without a sign-in: seconds for most runs, up to
# 5 minutes of PostgreSQL down in the outages path (no sign-in then). A token lives 15 minutes.
RENEW_BEFORE_S = 600.0


class SignUpError(RuntimeError):
    """The write API refused to register or sign in the bench user; says what it answered."""


def _data(response: requests.Response, expected: int, what: str) -> dict[str, Any]:
    if response.status_code != expected:
        raise SignUpError(f"{what}: {response.status_code} {response.text[:500]}")
    data: dict[str, Any] = response.json()["data"]
    return data


def _sign_in(write_url: str, username: str, password: str) -> str:
    response = requests.post(
        write_url + TOKEN_PATH, json={"username": username, "password": password}, timeout=30
    )
    return str(_data(response, 200, f"sign in as {username}")["access"])


def seconds_left(token: str) -> float:
    """Seconds until `token` expires (read without verifying: the bench only schedules by it)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return float(claims["exp"]) - time.time()


@dataclass
class BenchUser:
    """A registered user the benchmark acts as."""

    write_url: str
    username: str
    user_id: int
    password: str = field(repr=False)
    access: str = field(repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def token(self) -> str:
        """Return an access token valid for at least RENEW_BEFORE_S more seconds."""
        with self._lock:
            if seconds_left(self.access) < RENEW_BEFORE_S:
                self.access = _sign_in(self.write_url, self.username, self.password)
            return self.access

    def headers(self) -> dict[str, str]:
        """The Authorization header of a fresh token."""
        return {"Authorization": f"Bearer {self.token()}"}

    def child_env(self) -> dict[str, str]:
        """This process's environment plus a fresh token, for a generator process."""
        return {**os.environ, TOKEN_VARIABLE: self.token()}


def sign_up(write_url: str) -> BenchUser:
    """Register a new user `bench-<random>` on the write API and sign it in."""
    write_url = write_url.rstrip("/")
    username = f"bench-{secrets.token_hex(6)}"
    password = secrets.token_urlsafe(24)
    response = requests.post(
        write_url + REGISTER_PATH, json={"username": username, "password": password}, timeout=30
    )
    created = _data(response, 201, f"register {username}")
    return BenchUser(
        write_url=write_url,
        username=username,
        user_id=int(created["id"]),
        password=password,
        access=_sign_in(write_url, username, password),
    )


def token_from_env() -> str:
    """The access token the harness passed to this generator process."""
    token = os.environ.get(TOKEN_VARIABLE)
    if not token:
        raise SignUpError(f"{TOKEN_VARIABLE} is not set: the harness passes the bench user's token")
    return token
