"""Who is calling: verify the bearer access token with the public keys, then the deny list.

The read API holds only the verifying keys (`contracts.auth`), so it can check a token but
never mint one, and it asks the write side nothing. A token is accepted when it is an
Ed25519-signed (`EdDSA`) access token of issuer `todo-eda`, signed by a key of the verifying
folder named by its `kid`, not expired, for a user the deny list (`streams.users`) does not
refuse. docs/decisions/read-api-tokens.md says what is trusted and why.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts import auth
from contracts.records import DecodeError, parse_owner_id
from streams.users import user_refusal
from web_read.errors import UnauthorizedError, UnavailableError

log = logging.getLogger(__name__)

#: An unknown kid rereads the folder (a key added by a rotation) at most this often.
RELOAD_SECONDS = 5.0
#: The folder is reread this often anyway, so a key taken out of it (revoked) stops verifying.
REFRESH_SECONDS = 30.0
#: Verified tokens remembered until they expire: a signature check costs far more than a hit.
CACHE_SIZE = 4096
_REQUIRED_CLAIMS = ["exp", "iat", "iss", auth.USER_ID_CLAIM, auth.TOKEN_TYPE_CLAIM]
_BEARER = "bearer"

# PyJWT's refusals, most specific first, as the phrase the client is told.
_REFUSALS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.DecodeError, "malformed token"),
)


def bearer_token(authorization: str | None) -> str:
    """Return the token of an `Authorization: Bearer <token>` header, or raise a 401."""
    if authorization is None:
        raise UnauthorizedError()
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != _BEARER:
        # Another scheme (Basic, ...) is no credentials for this API, as DRF treats it.
        raise UnauthorizedError()
    token = token.strip()
    if not token or " " in token:
        raise UnauthorizedError("the Authorization header must be Bearer and one token")
    return token


@dataclass(frozen=True)
class Caller:
    """Who a verified access token speaks for."""

    user_id: int
    staff: bool = False


@dataclass(frozen=True)
class _Verified:
    caller: Caller
    expires_at: float
    kid: str


class TokenVerifier:
    """Verifies access tokens against a folder of public keys; returns the caller's user id."""

    def __init__(
        self,
        keys_dir: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.keys_dir = keys_dir
        self._clock = clock
        self._wall_clock = wall_clock
        self._cache_size = cache_size
        self._cache: OrderedDict[str, _Verified] = OrderedDict()
        self._keys = auth.load_verifying_keys(keys_dir)
        self._loaded_at = clock()

    def verify(self, token: str) -> int:
        """Return the user id of a valid access token, or raise UnauthorizedError saying why."""
        return self.caller(token).user_id

    def caller(self, token: str) -> Caller:
        """Return who a valid access token speaks for, or raise UnauthorizedError saying why."""
        if self._clock() - self._loaded_at >= REFRESH_SECONDS:
            self._reload()
        known = self._cache.get(token)
        if known is not None:
            if self._wall_clock() < known.expires_at:
                self._cache.move_to_end(token)
                return known.caller
            del self._cache[token]
        verified = self._verify_signed(token)
        self._cache[token] = verified
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return verified.caller

    def _verify_signed(self, token: str) -> _Verified:
        # A JWS is base64url and dots; aiohttp hands undecodable header bytes over as
        # surrogates, which PyJWT would fail to encode with a UnicodeError (a 500).
        if not token.isascii():
            raise UnauthorizedError("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise UnauthorizedError("malformed token") from None
        # Checked before any key is looked up: `none`, HS256 with the public key as the
        # secret, and every other algorithm are refused outright.
        if header.get("alg") != auth.ALGORITHM:
            raise UnauthorizedError("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise UnauthorizedError("token has no key id")
        key = self._key(kid)
        if key is None:
            raise UnauthorizedError("unknown key id")
        claims = _decode(token, key)
        if claims[auth.TOKEN_TYPE_CLAIM] != auth.ACCESS_TOKEN_TYPE:
            raise UnauthorizedError("not an access token")
        try:
            user_id = parse_owner_id(claims[auth.USER_ID_CLAIM])
        except DecodeError:
            raise UnauthorizedError("bad user id") from None
        exp = claims["exp"]
        caller = Caller(user_id, staff=claims.get(auth.STAFF_CLAIM) is True)
        return _Verified(caller=caller, expires_at=float(exp), kid=kid)

    def _key(self, kid: str) -> Ed25519PublicKey | None:
        key = self._keys.get(kid)
        if key is None and self._clock() - self._loaded_at >= RELOAD_SECONDS:
            self._reload()
            key = self._keys.get(kid)
        return key

    def _reload(self) -> None:
        # Stamped first: a folder that fails to load is not reread on every request either.
        self._loaded_at = self._clock()
        try:
            keys = auth.load_verifying_keys(self.keys_dir)
        except (auth.KeyFolderError, OSError, ValueError) as exc:
            log.warning("keeping the verifying keys loaded before: %s", exc)
            return
        removed = self._keys.keys() - keys.keys()
        if removed:
            # A key taken out of the folder is revoked: its cached tokens go with it.
            for token in [t for t, v in self._cache.items() if v.kid in removed]:
                del self._cache[token]
        if keys.keys() != self._keys.keys():
            log.info("verifying keys now: %s", ", ".join(sorted(keys)) or "none")
        self._keys = keys


def _decode(token: str, key: Ed25519PublicKey) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[auth.ALGORITHM],
            issuer=auth.ISSUER,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise UnauthorizedError(f"token has no {exc.claim} claim") from None
    except jwt.InvalidTokenError as exc:
        for kind, phrase in _REFUSALS:
            if isinstance(exc, kind):
                raise UnauthorizedError(phrase) from None
        raise UnauthorizedError("invalid token") from None
    return claims


_verifier: TokenVerifier | None = None


def verifier(env: Mapping[str, str] = os.environ) -> TokenVerifier:
    """Return this process's verifier, built on first use from AUTH_VERIFYING_KEYS_DIR."""
    global _verifier
    if _verifier is None:
        folder = env.get(auth.VERIFYING_KEYS_DIR_VARIABLE, "").strip()
        if not folder:
            log.error("%s is not set: no token can be verified", auth.VERIFYING_KEYS_DIR_VARIABLE)
            raise UnavailableError("Token verification is not configured.")
        try:
            _verifier = TokenVerifier(Path(folder))
        except (auth.KeyFolderError, OSError, ValueError) as exc:
            log.error("the verifying keys cannot be loaded: %s", exc)
            raise UnavailableError("Token verification is not configured.") from None
    return _verifier


def authenticate(headers: Mapping[str, str]) -> int:
    """Return the calling user's id from the request's headers, or raise a 401 saying why."""
    return authenticate_caller(headers).user_id


def authenticate_caller(headers: Mapping[str, str]) -> Caller:
    """Return who is calling, from the request's headers, or raise a 401 saying why."""
    caller = verifier().caller(bearer_token(headers.get("Authorization")))
    # Checked on every request, cached token or not: a deactivation takes effect at once.
    refusal = user_refusal(caller.user_id)
    if refusal is not None:
        raise UnauthorizedError(refusal)
    return caller
