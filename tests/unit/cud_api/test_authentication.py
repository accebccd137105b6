"""Bearer tokens on the todos endpoints: what is accepted, and every way one is refused."""

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.test import Client
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken

from contracts import auth
from cud_api.accounts.backend import KidTokenBackend
from cud_api.accounts.tokens import AccessToken, RefreshToken
from cud_api.todos import apis
from tests.support.users import access_claims
from tests.unit.cud_api.conftest import ALICE_ID, KID


@pytest.fixture
def client():
    return Client(HTTP_HOST="localhost", raise_request_exception=False)


@pytest.fixture(autouse=True)
def no_todos(monkeypatch):
    monkeypatch.setattr(apis, "todo_list", lambda **kwargs: [])


def signing_key() -> Ed25519PrivateKey:
    pem = (Path(settings.AUTH_SIGNING_KEYS_DIR) / f"{KID}.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def claims(**changes):
    return access_claims(ALICE_ID, **changes)


def forge(payload=None, *, key=None, kid=KID, algorithm="EdDSA"):
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(
        payload or claims(), key or signing_key(), algorithm=algorithm, headers=headers
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_the_public_key_as_secret() -> str:
    """The classic confusion attack: HMAC keyed with the (public) verifying key's PEM."""
    public_pem = (Path(settings.AUTH_VERIFYING_KEYS_DIR) / f"{KID}.pem").read_bytes()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    body = b64(json.dumps(claims()).encode())
    mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def call(client, token):
    return client.get("/api/todos/", HTTP_AUTHORIZATION=f"Bearer {token}")


def assert_refused(response, message_part, error="invalid_token"):
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["status"] == "error" and body["status_code"] == 401
    assert message_part in body["message"], body
    assert body["errors"]["authorization"] == [body["message"]]
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="todo-eda", ')
    assert f'error="{error}"' in challenge
    assert "error_description=" in challenge
    return body


def test_a_token_signed_with_the_active_key_is_accepted(client, users):
    token = str(AccessToken.for_user(users.rows[ALICE_ID]))
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": KID, "typ": "JWT"}
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["iss"] == auth.ISSUER
    assert payload["user_id"] == str(ALICE_ID)
    assert payload["token_type"] == "access"
    assert call(client, token).status_code == 200


def test_a_hand_made_token_with_the_contract_claims_is_accepted(client):
    assert call(client, forge()).status_code == 200


def test_malformed_token_is_401(client):
    assert_refused(call(client, "not-a-jwt"), "malformed")
    assert_refused(call(client, "a.b.c"), "malformed")


def test_wrong_signature_is_401(client):
    other = Ed25519PrivateKey.generate()
    assert_refused(call(client, forge(key=other)), "signature is invalid")


def test_alg_none_is_401(client):
    token = jwt.encode(claims(), None, algorithm="none", headers={"kid": KID})
    assert_refused(call(client, token), "algorithm must be EdDSA")


def test_hs256_keyed_with_the_public_key_is_401(client):
    assert_refused(call(client, hs256_with_the_public_key_as_secret()), "algorithm must be EdDSA")


def test_expired_token_is_401(client):
    now = int(time.time())
    body = assert_refused(call(client, forge(claims(iat=now - 600, exp=now - 1))), "expired")
    assert body["message"] == "Token is expired"


def test_other_issuer_is_401(client):
    assert_refused(call(client, forge(claims(iss="someone-else"))), "wrong issuer")


def test_missing_issuer_is_401(client):
    assert_refused(call(client, forge(claims(iss=None))), "'iss'")


def test_unknown_kid_is_401(client):
    assert_refused(call(client, forge(kid="AAAAAAAAAAAAAAAA")), "unknown key id")


def test_missing_kid_is_401(client):
    assert_refused(call(client, forge(kid=None)), "no key id")


def test_refresh_token_used_as_access_is_401(client, users):
    refresh = str(RefreshToken.for_user(users.rows[ALICE_ID]))
    assert_refused(call(client, refresh), "wrong type")


def test_token_without_a_usable_user_id_is_401(client):
    assert_refused(call(client, forge(claims(user_id="alice"))), "no valid user id")


def test_inactive_user_is_401(client, users):
    users.rows[ALICE_ID].is_active = False
    assert_refused(call(client, forge()), "User is inactive")


def test_deleted_user_is_401(client, users):
    del users.rows[ALICE_ID]
    assert_refused(call(client, forge()), "User not found")


def test_authorization_header_with_extra_parts_is_401_invalid_request(client):
    response = client.get("/api/todos/", HTTP_AUTHORIZATION="Bearer a b")
    assert_refused(response, "two space-delimited values", error="invalid_request")


def test_another_scheme_is_treated_as_no_token(client):
    response = client.get("/api/todos/", HTTP_AUTHORIZATION="Basic YWxpY2U6cHc=")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="todo-eda"'


def test_rotation_signs_with_the_new_key_and_still_verifies_the_old(tmp_path):
    signing, verifying = tmp_path / "signing", tmp_path / "verifying"
    old_kid = auth.generate_key(signing, verifying)
    backend = KidTokenBackend(signing_dir=signing, verifying_dir=verifying)
    old = backend.encode(claims())
    assert backend.decode(old)["user_id"] == str(ALICE_ID)
    new_kid = auth.generate_key(signing, verifying)
    new = backend.encode(claims())
    assert jwt.get_unverified_header(old)["kid"] == old_kid
    assert jwt.get_unverified_header(new)["kid"] == new_kid != old_kid
    # At once, though the folder was read less than a second ago.
    assert backend.decode(new)["user_id"] == str(ALICE_ID)
    assert backend.decode(old)["user_id"] == str(ALICE_ID)


def test_check_fails_without_keys(tmp_path):
    from contracts.auth import KeyFolderError

    backend = KidTokenBackend(signing_dir=tmp_path / "none", verifying_dir=tmp_path / "none")
    with pytest.raises(KeyFolderError):
        backend.check()
    with pytest.raises(KeyFolderError):
        KidTokenBackend(signing_dir=None, verifying_dir=None).check()


def test_a_verified_token_is_not_verified_again_until_it_expires(tmp_path, monkeypatch):
    from cud_api.accounts import backend as backend_module

    signing, verifying = tmp_path / "signing", tmp_path / "verifying"
    auth.generate_key(signing, verifying)
    backend = KidTokenBackend(signing_dir=signing, verifying_dir=verifying)
    now = int(time.time())
    token = backend.encode(claims(iat=now, exp=now + 30))
    verified = []
    real_decode = jwt.decode
    monkeypatch.setattr(
        backend_module.jwt, "decode", lambda *a, **k: verified.append(1) or real_decode(*a, **k)
    )
    first = backend.decode(token)
    first["user_id"] = "tampered"  # the caller's copy: the remembered claims stay as signed
    assert backend.decode(token)["user_id"] == str(ALICE_ID)
    assert len(verified) == 1
    # One character off is another token: verified (and refused) on its own.
    forged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(TokenBackendError):
        backend.decode(forged)
    assert len(verified) == 2
    # Past its exp, the remembered token is refused like any expired one.
    monkeypatch.setattr(backend_module.time, "time", lambda: now + 31)
    with pytest.raises(TokenBackendExpiredToken):
        backend.decode(token)


def test_a_public_key_deleted_from_the_folder_stops_verifying_without_a_restart(
    tmp_path, monkeypatch
):
    from cud_api.accounts import backend as backend_module

    signing, verifying = tmp_path / "signing", tmp_path / "verifying"
    old = auth.generate_key(signing, verifying)
    backend = KidTokenBackend(signing_dir=signing, verifying_dir=verifying)
    now = int(time.time())
    old_token = backend.encode(claims(iat=now, exp=now + 600))
    auth.generate_key(signing, verifying)
    assert backend.decode(old_token)["user_id"] == str(ALICE_ID)
    (verifying / f"{old}.pem").unlink()  # revoked
    clock = time.monotonic()
    # Past the refresh interval and the verified-token memory, the old kid is unknown.
    monkeypatch.setattr(backend_module.time, "monotonic", lambda: clock + 61)
    with pytest.raises(TokenBackendError, match="unknown key id"):
        backend.decode(old_token)
