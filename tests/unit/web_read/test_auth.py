"""Token verification of the read API: what is accepted, each refusal and why, keys, cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import auth
from streams.users import DEACTIVATED, DELETED, UserChange
from tests.support.clock import Clock
from tests.unit.web_read.tokens import CALLER, Tokens
from web_read.auth import (
    REFRESH_SECONDS,
    RELOAD_SECONDS,
    TokenVerifier,
    authenticate,
    bearer_token,
)
from web_read.auth import verifier as verifier_of
from web_read.errors import UnauthorizedError, UnavailableError


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(header: dict, claims: dict, key: bytes | None) -> str:
    """A token with any header, HMAC-signed with `key` (or unsigned when None)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{_b64(signature)}"


def _refusal(verifier: TokenVerifier, token: str) -> str | None:
    with pytest.raises(UnauthorizedError) as caught:
        verifier.verify(token)
    return caught.value.description


@pytest.fixture
def verifier(tokens: Tokens) -> TokenVerifier:
    return TokenVerifier(tokens.verifying_dir)


def test_a_valid_access_token_gives_its_user_id(tokens, verifier):
    assert verifier.verify(tokens.access(42)) == 42


def test_the_user_id_claim_may_be_a_number_as_well_as_decimal_text(tokens, verifier):
    assert verifier.verify(tokens.sign({**tokens.claims(), auth.USER_ID_CLAIM: 9})) == 9


def _other_private_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def test_each_bad_token_is_refused_saying_why(tokens, verifier):
    now = int(time.time())
    cases = {
        "not a token": "malformed token",
        "a.b.c": "malformed token",
        "\udcff.a.b": "malformed token",  # undecodable header bytes, as aiohttp passes them on
        "ü.ü.ü": "malformed token",
        tokens.access(exp=now - 1, iat=now - 301): "token expired",
        tokens.sign(tokens.claims(), private_pem=_other_private_pem()): "bad signature",
        tokens.sign(tokens.claims(), kid="AAAAAAAAAAAAAAAA"): "unknown key id",
        tokens.access(iss="someone-else"): "wrong issuer",
        tokens.access(token_type="refresh"): "not an access token",
        tokens.access(exp=None): "token has no exp claim",
        tokens.access(iss=None): "token has no iss claim",
        tokens.access(token_type=None): "token has no token_type claim",
        tokens.sign({k: v for k, v in tokens.claims().items() if k != "user_id"}): (
            "token has no user_id claim"
        ),
        tokens.access(user_id="0"): "bad user id",
        tokens.access(user_id="seven"): "bad user id",
        tokens.access(iat=now + 3600): "token not yet valid",
        jwt.encode(tokens.claims(), tokens.private_pem, algorithm="EdDSA"): "token has no key id",
    }
    for token, reason in cases.items():
        assert _refusal(verifier, token) == reason, token


def test_alg_none_and_hmac_with_the_public_key_are_refused_before_any_key_is_used(tokens, verifier):
    claims = tokens.claims()
    public_pem = (tokens.verifying_dir / f"{tokens.kid}.pem").read_bytes()
    none = _forged({"alg": "none", "typ": "JWT", "kid": tokens.kid}, claims, None)
    hmac_with_public_key = _forged({"alg": "HS256", "kid": tokens.kid}, claims, public_pem)
    assert _refusal(verifier, none) == "algorithm not allowed"
    assert _refusal(verifier, hmac_with_public_key) == "algorithm not allowed"


def test_a_key_added_to_the_folder_is_found_on_a_reload_at_most_every_few_seconds(tokens):
    clock = Clock()
    verifier = TokenVerifier(tokens.verifying_dir, clock=clock)
    new_kid = auth.generate_key(tokens.signing_dir, tokens.verifying_dir)
    new_pem = auth.load_signing_key(tokens.signing_dir).private_pem
    token = tokens.sign(tokens.claims(), private_pem=new_pem, kid=new_kid)
    clock.now += RELOAD_SECONDS / 2
    assert _refusal(verifier, token) == "unknown key id"
    clock.now += RELOAD_SECONDS
    assert verifier.verify(token) == CALLER
    # The older key still verifies the tokens it signed.
    assert verifier.verify(tokens.access()) == CALLER


def test_a_key_taken_out_of_the_folder_stops_its_cached_tokens_at_the_next_reload(tokens):
    clock = Clock()
    verifier = TokenVerifier(tokens.verifying_dir, clock=clock)
    old = tokens.access()
    assert verifier.verify(old) == CALLER
    (tokens.verifying_dir / f"{tokens.kid}.pem").unlink()
    clock.now += RELOAD_SECONDS
    assert _refusal(verifier, tokens.sign(tokens.claims(), kid="AAAAAAAAAAAAAAAA")) == (
        "unknown key id"
    )
    assert _refusal(verifier, old) == "unknown key id"


def test_a_revoked_key_stops_verifying_within_the_refresh_period_even_for_cached_tokens(tokens):
    clock = Clock()
    verifier = TokenVerifier(tokens.verifying_dir, clock=clock)
    cached = tokens.access()
    assert verifier.verify(cached) == CALLER
    (tokens.verifying_dir / f"{tokens.kid}.pem").unlink()
    clock.now += REFRESH_SECONDS / 2
    assert verifier.verify(cached) == CALLER  # not reread yet
    clock.now += REFRESH_SECONDS / 2
    assert _refusal(verifier, cached) == "unknown key id"


def test_a_folder_that_breaks_keeps_the_keys_loaded_before(tokens):
    clock = Clock()
    verifier = TokenVerifier(tokens.verifying_dir, clock=clock)
    (tokens.verifying_dir / "AAAAAAAAAAAAAAAA.pem").write_text("not a key")
    clock.now += RELOAD_SECONDS
    assert _refusal(verifier, tokens.sign(tokens.claims(), kid="BBBBBBBBBBBBBBBB")) == (
        "unknown key id"
    )
    assert verifier.verify(tokens.access()) == CALLER


def test_a_verified_token_is_not_checked_again_until_it_expires(tokens, monkeypatch):
    wall = Clock()
    wall.now = time.time()
    verifier = TokenVerifier(tokens.verifying_dir, wall_clock=wall)
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token, *args, **kwargs):
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr("web_read.auth.jwt.decode", counting_decode)
    token = tokens.access(exp=int(wall.now) + 60)
    assert [verifier.verify(token) for _ in range(3)] == [CALLER] * 3
    assert len(decoded) == 1
    wall.now += 61  # past exp: the cached verdict is dropped, the token verified afresh
    verifier.verify(token)
    assert len(decoded) == 2


def test_the_cache_is_bounded(tokens):
    verifier = TokenVerifier(tokens.verifying_dir, cache_size=2)
    for user_id in (1, 2, 3):
        verifier.verify(tokens.access(user_id))
    assert len(verifier._cache) == 2


@pytest.mark.parametrize(
    ("header", "description"),
    [
        (None, None),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", "the Authorization header must be Bearer and one token"),
        ("Bearer   ", "the Authorization header must be Bearer and one token"),
        ("Bearer a b", "the Authorization header must be Bearer and one token"),
    ],
)
def test_an_authorization_header_without_one_bearer_token_is_refused(header, description):
    with pytest.raises(UnauthorizedError) as caught:
        bearer_token(header)
    assert caught.value.description == description


def test_the_bearer_scheme_is_case_insensitive():
    assert bearer_token("bearer abc") == "abc"
    assert bearer_token("  Bearer abc  ") == "abc"


def test_the_challenge_names_the_realm_and_for_a_bad_token_why():
    assert UnauthorizedError().challenge == 'Bearer realm="todo-eda"'
    assert UnauthorizedError("token expired").challenge == (
        'Bearer realm="todo-eda", error="invalid_token", error_description="token expired"'
    )


def test_a_deactivated_or_deleted_user_is_refused_with_a_good_token(tokens, deny_list, monkeypatch):
    monkeypatch.setattr("web_read.auth._verifier", TokenVerifier(tokens.verifying_dir))
    headers = {"Authorization": f"Bearer {tokens.access(5)}"}
    assert authenticate(headers) == 5
    deny_list.apply(UserChange(5, DEACTIVATED))
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(headers)
    assert caught.value.description == DEACTIVATED
    deny_list.apply(UserChange(5, DELETED))
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(headers)
    assert caught.value.description == DELETED
    deny_list.apply(UserChange(5, None))  # reactivated in the admin
    assert authenticate(headers) == 5


def test_the_verifier_is_built_from_the_verifying_folder_variable(tokens, monkeypatch):
    monkeypatch.setattr("web_read.auth._verifier", None)
    env = {auth.VERIFYING_KEYS_DIR_VARIABLE: str(tokens.verifying_dir)}
    assert verifier_of(env).verify(tokens.access()) == CALLER


def test_no_verifying_folder_is_a_503_not_a_500(monkeypatch):
    monkeypatch.setattr("web_read.auth._verifier", None)
    with pytest.raises(UnavailableError):
        verifier_of({})
