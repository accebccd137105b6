"""The bench user: its token is renewed before it expires, and reaches wrk and generators."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import users
from bench.procs import GeneratorError
from bench.wrk import authorized, get_by_id_script

KEY = Ed25519PrivateKey.generate()


def _token(lifetime_s: float) -> str:
    claims = {"exp": int(time.time() + lifetime_s), "user_id": "7", "jti": uuid.uuid4().hex}
    return jwt.encode(claims, KEY, "EdDSA")


class FakeResponse:
    """What requests.post answers in these tests."""

    def __init__(self, status_code: int, data: dict[str, Any]) -> None:
        self.status_code = status_code
        self._data = data
        self.text = str(data)

    def json(self) -> dict[str, Any]:
        return {"status": "success", "data": self._data}


@pytest.fixture
def posts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Record the bench's POSTs to the write API and answer them as it would."""
    sent: list[tuple[str, dict[str, Any]]] = []

    def post(url: str, *, json: dict[str, Any], timeout: float) -> FakeResponse:
        sent.append((url, json))
        if url.endswith(users.REGISTER_PATH):
            return FakeResponse(201, {"id": 7, "username": json["username"]})
        return FakeResponse(200, {"access": _token(900), "refresh": "r"})

    monkeypatch.setattr(users.requests, "post", post)
    return sent


def test_sign_up_registers_a_random_bench_user_and_signs_it_in(posts):
    user = users.sign_up("http://write:8000/")
    assert user.user_id == 7 and user.username.startswith("bench-")
    assert [url for url, _ in posts] == [
        "http://write:8000/api/auth/register/",
        "http://write:8000/api/auth/token/",
    ]
    assert posts[0][1] == posts[1][1] == {"username": user.username, "password": user.password}
    assert user.password not in repr(user) and user.access not in repr(user)
    assert users.sign_up("http://write:8000").username != user.username


def test_a_token_is_reused_while_fresh_and_renewed_near_its_expiry(posts):
    user = users.BenchUser("http://w", "bench-x", 7, password="pw", access=_token(900))
    fresh = user.access
    assert user.token() == fresh and not posts
    user.access = _token(users.RENEW_BEFORE_S - 5)
    renewed = user.token()
    assert renewed != fresh and users.seconds_left(renewed) > 800
    assert posts == [("http://w/api/auth/token/", {"username": "bench-x", "password": "pw"})]
    assert user.headers() == {"Authorization": f"Bearer {renewed}"}


def test_a_refused_sign_up_says_what_the_write_api_answered(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(
        users.requests,
        "post",
        lambda url, **kw: FakeResponse(403, {"detail": "Registration is closed."}),
    )
    with pytest.raises(users.SignUpError, match=r"403.*Registration is closed"):
        users.sign_up("http://w")


def test_generators_get_the_token_from_their_environment(monkeypatch: pytest.MonkeyPatch):
    user = users.BenchUser("http://w", "bench-x", 7, password="pw", access=_token(900))
    env = user.child_env()
    assert env[users.TOKEN_VARIABLE] == user.access
    monkeypatch.setenv(users.TOKEN_VARIABLE, env[users.TOKEN_VARIABLE])
    assert users.token_from_env() == user.access
    monkeypatch.delenv(users.TOKEN_VARIABLE)
    with pytest.raises(users.SignUpError, match=users.TOKEN_VARIABLE):
        users.token_from_env()


def test_wrk_scripts_send_the_token_on_every_request():
    token = _token(900)
    lua = authorized(get_by_id_script("/api/todos/", [1, 2]), token)
    # Set before `request` builds requests with wrk.format, which takes wrk.headers.
    header = f'wrk.headers["Authorization"] = "Bearer {token}"'
    assert lua.index(header) < lua.index("request = function()")


@pytest.mark.parametrize("bad", ['a.b"; os.exit(1) --', "a.b c", "a.b\nc"])
def test_wrk_refuses_a_token_that_could_break_out_of_its_lua_string(bad: str):
    with pytest.raises(GeneratorError):
        authorized("", bad)
