"""Users and tokens on the real write API: every bad credential refused, the throttle engaged."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import auth
from tests.support.polling import wait_for
from tests.support.users import REFRESH_PATH, TOKEN_PATH, access_claims, register_user

NO_TOKEN = {"Authorization": None}


@pytest.fixture(scope="module")
def signing_key(stack):
    """The stack's active signing key (to forge tokens that differ in one way only)."""
    return auth.load_signing_key(stack.state_dir / auth.SIGNING_KEYS_SUBDIR)


def claims(user, **changes):
    return access_claims(user.user_id, **changes)


def forge(signing_key, payload, *, key=None, kid=None):
    return jwt.encode(
        payload,
        key or signing_key.private_pem,
        algorithm="EdDSA",
        headers={"kid": kid or signing_key.kid},
    )


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(signing_key, payload, alg):
    head = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": signing_key.kid}).encode())
    return f"{head}.{b64(json.dumps(payload).encode())}."


def hs256_with_the_public_key(stack, signing_key, payload):
    public = (stack.state_dir / auth.VERIFYING_KEYS_SUBDIR / f"{signing_key.kid}.pem").read_bytes()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signing_key.kid}).encode())
    body = b64(json.dumps(payload).encode())
    mac = hmac.new(public, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def assert_401(response, message_part, *, error="invalid_token"):
    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert (body["status"], body["status_code"]) == ("error", 401)
    assert message_part in body["message"], body
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="todo-eda"')
    if error:
        assert f'error="{error}"' in challenge
    return body


def test_no_token_is_401_with_the_bearer_challenge_on_every_endpoint(api):
    todo = "/api/todos/1/"
    command = f"/api/commands/{uuid.uuid4()}/"
    for method, path in [
        ("GET", "/api/todos/"),
        ("POST", "/api/todos/"),
        ("GET", todo),
        ("PUT", todo),
        ("PATCH", todo),
        ("DELETE", todo),
        ("GET", command),
        ("GET", "/todos/"),
    ]:
        response = api.request(method, path, json={"title": "x"}, headers=NO_TOKEN)
        body = assert_401(response, "credentials were not provided", error=None)
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="todo-eda"'
        assert body["errors"] == {"authorization": [body["message"]]}


def test_health_schema_and_docs_need_no_token(api):
    for path in ("/health/", "/api/schema/", "/api/docs/"):
        assert api.get(path, headers=NO_TOKEN).status_code == 200, path


def test_every_bad_token_is_401_with_its_reason(api, stack, user, signing_key):
    now = int(time.time())
    cases = {
        "malformed": ("not.a.jwt", "malformed"),
        "garbage": ("garbage", "malformed"),
        "wrong signature": (
            forge(signing_key, claims(user), key=Ed25519PrivateKey.generate()),
            "signature is invalid",
        ),
        "alg none": (unsigned(signing_key, claims(user), "none"), "algorithm must be EdDSA"),
        "HS256 keyed with the public key": (
            hs256_with_the_public_key(stack, signing_key, claims(user)),
            "algorithm must be EdDSA",
        ),
        "expired": (forge(signing_key, claims(user, iat=now - 600, exp=now - 5)), "expired"),
        "unknown kid": (forge(signing_key, claims(user), kid="AAAAAAAAAAAAAAAA"), "unknown key"),
        "other issuer": (forge(signing_key, claims(user, iss="evil")), "wrong issuer"),
        "refresh as access": (user.refresh, "wrong type"),
        "no such user": (forge(signing_key, claims(user, user_id="999999999")), "User not found"),
    }
    answers = {}
    for name, (token, reason) in cases.items():
        response = api.get("/api/todos/", headers={"Authorization": f"Bearer {token}"})
        answers[name] = (response.status_code, response.json()["message"])
        assert_401(response, reason)
    print(json.dumps(answers, indent=1))  # the closing note lists these (-s)
    # And the real token of the same user still works.
    assert api.get("/api/todos/").status_code == 200


def test_a_deactivated_or_deleted_user_is_refused(anonymous, pg):
    deactivated, deleted = register_user(anonymous.base_url), register_user(anonymous.base_url)
    for person in (deactivated, deleted):
        assert anonymous.get("/api/todos/", headers=person.headers()).status_code == 200
    pg.execute("UPDATE auth_user SET is_active = false WHERE id = %s", [deactivated.user_id])
    pg.execute("DELETE FROM auth_user WHERE id = %s", [deleted.user_id])

    # Each worker remembers a user row for a few seconds (CUD_API_USER_CACHE_SECONDS).
    def refused(person, reason):
        response = anonymous.get("/api/todos/", headers=person.headers())
        # A list, not the response: a 401 Response is falsy.
        return [response] if reason in response.json()["message"] else None

    (inactive,) = wait_for(lambda: refused(deactivated, "User is inactive"), timeout=20)
    assert_401(inactive, "User is inactive")
    (gone,) = wait_for(lambda: refused(deleted, "User not found"), timeout=20)
    assert_401(gone, "User not found")
    # Neither can sign in or refresh any more.
    for person in (deactivated, deleted):
        sign_in = requests.post(
            anonymous.base_url + TOKEN_PATH,
            json={"username": person.username, "password": person.password},
            timeout=30,
        )
        assert sign_in.status_code == 401
        refresh = requests.post(
            anonymous.base_url + REFRESH_PATH, json={"refresh": person.refresh}, timeout=30
        )
        assert refresh.status_code == 401, refresh.text


def test_refresh_gives_a_working_access_token_and_refuses_an_access_token(anonymous, user):
    response = requests.post(
        anonymous.base_url + REFRESH_PATH, json={"refresh": user.refresh}, timeout=30
    )
    assert response.status_code == 200, response.text
    access = response.json()["data"]["access"]
    assert jwt.decode(access, options={"verify_signature": False})["user_id"] == str(user.user_id)
    mine = anonymous.get("/api/todos/", headers={"Authorization": f"Bearer {access}"})
    assert mine.status_code == 200
    wrong = requests.post(
        anonymous.base_url + REFRESH_PATH, json={"refresh": user.access}, timeout=30
    )
    assert_401(wrong, "wrong type")


def test_failed_sign_ins_engage_the_throttle_with_retry_after(anonymous, user):
    victim = register_user(anonymous.base_url)

    def sign_in(username, password):
        # A new connection each time: the attempts reach different gunicorn workers, which
        # must share the count.
        return requests.post(
            anonymous.base_url + TOKEN_PATH,
            json={"username": username, "password": password},
            timeout=30,
        )

    for attempt in range(5):
        failed = sign_in(victim.username, f"wrong-{attempt}")
        assert failed.status_code == 401, failed.text
        assert failed.json()["message"] == "No active account found with the given credentials"
    throttled = sign_in(victim.username, victim.password)
    assert throttled.status_code == 429, throttled.text
    assert 0 < int(throttled.headers["Retry-After"]) <= 60
    assert throttled.json()["status"] == "error"
    # Other usernames from the same client are not affected, nor are successful sign-ins.
    for _ in range(6):
        assert sign_in(user.username, user.password).status_code == 200


def test_register_refuses_a_taken_username_and_a_weak_password(anonymous, user):
    taken = anonymous.post(
        "/api/auth/register/", json={"username": user.username, "password": "x" * 20 + "9aZ"}
    )
    assert taken.status_code == 400
    assert taken.json()["errors"]["username"] == ["A user with that username already exists."]
    weak = anonymous.post(
        "/api/auth/register/", json={"username": f"u{uuid.uuid4().hex[:8]}", "password": "1234"}
    )
    assert weak.status_code == 400
    assert "password" in weak.json()["errors"]


def test_the_token_names_its_key_and_issuer(user, signing_key):
    header = jwt.get_unverified_header(user.access)
    assert header["alg"] == "EdDSA" and header["kid"] == signing_key.kid
    payload = jwt.decode(user.access, options={"verify_signature": False})
    assert payload["iss"] == auth.ISSUER
    assert payload["token_type"] == "access"
    assert payload["exp"] - payload["iat"] == 15 * 60


def test_no_token_or_password_reaches_the_logs(stack, anonymous, user):
    probe = register_user(anonymous.base_url)
    requests.post(
        anonymous.base_url + TOKEN_PATH,
        json={"username": probe.username, "password": probe.password + "-wrong"},
        timeout=30,
    )
    anonymous.get("/api/todos/", headers={"Authorization": f"Bearer {probe.access}x"})
    logs = "".join(
        path.read_text(errors="replace") for path in (stack.state_dir / "logs").glob("*.log")
    )
    assert logs  # the services do log
    for secret in (probe.password, probe.access, probe.refresh, user.access, user.password):
        assert secret not in logs
