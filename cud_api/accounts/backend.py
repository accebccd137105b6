"""simplejwt's TokenBackend with key ids: sign with the active key, verify by the token's kid.

simplejwt 5.5.1 signs with one key and verifies with one key, and writes no `kid` header.
This subclass reads the `contracts.auth` key folders instead, so a key can be rotated while
tokens signed with the previous one stay valid until they expire.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.conf import settings
from jwt import ExpiredSignatureError, InvalidTokenError
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken

from contracts import auth

logger = logging.getLogger(__name__)

# An unknown kid makes the folder be read again (a key added by a rotation), at most this often,
# so tokens with made-up kids cannot make every request read the disk.
_RELOAD_INTERVAL_SECONDS = 1.0
# Known keys are also read again this often, so a public key deleted from the folder (a revoked
# key) stops verifying without a restart.
_REFRESH_SECONDS = 30.0
# Claims a token must carry; simplejwt adds `jti` and `token_type` and checks them itself.
_REQUIRED_CLAIMS = ["exp", "iat", "iss", auth.USER_ID_CLAIM]
# A token verified once is trusted for this long (never past its `exp`) without verifying its
# signature again: a client sends the same token with every request, and the Ed25519 check is
# most of authentication's cost. Bounded, so a flood of distinct tokens cannot grow it.
_VERIFIED_TTL_SECONDS = 60.0
_VERIFIED_MAX_ENTRIES = 10_000


class KidTokenBackend(TokenBackend):
    """Signs EdDSA tokens with a `kid` header and verifies each with the public key it names."""

    def __init__(self, *, signing_dir: Path | None, verifying_dir: Path | None) -> None:
        super().__init__(auth.ALGORITHM, signing_key=None, issuer=auth.ISSUER)
        self.signing_dir = signing_dir
        self.verifying_dir = verifying_dir
        self._lock = threading.Lock()
        self._signing: tuple[str, Ed25519PrivateKey] | None = None
        self._verifying: dict[str, Ed25519PublicKey] = {}
        self._loaded_at = float("-inf")
        # token -> (its claims, monotonic time until which they are trusted)
        self._verified: dict[bytes, tuple[dict[str, Any], float]] = {}

    def check(self) -> None:
        """Load both folders now; raise KeyFolderError if either cannot be used."""
        self._signing_key()
        if not self._reload_verifying(force=True):
            raise auth.KeyFolderError(f"no public keys in {self.verifying_dir}")

    def _signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        if self.signing_dir is None:
            raise auth.KeyFolderError(f"{auth.SIGNING_KEYS_DIR_VARIABLE} is not set")
        # The `active` file is read on every signature (sign-ins and refreshes only), so a
        # rotation takes effect without a restart; the PEM is parsed once per kid.
        loaded = auth.load_signing_key(self.signing_dir)
        current = self._signing
        if current is not None and current[0] == loaded.kid:
            return current
        private = load_pem_private_key(loaded.private_pem.encode(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise auth.KeyFolderError(f"signing key {loaded.kid} is not an Ed25519 key")
        self._signing = (loaded.kid, private)
        # A new active key: know its public half before the first token it signs comes back.
        self._reload_verifying(force=True)
        return self._signing

    def _reload_verifying(self, *, force: bool = False) -> dict[str, Ed25519PublicKey]:
        with self._lock:
            now = time.monotonic()
            if force or now - self._loaded_at >= _RELOAD_INTERVAL_SECONDS:
                self._loaded_at = now
                if self.verifying_dir is not None:
                    try:
                        self._verifying = auth.load_verifying_keys(self.verifying_dir)
                    except (auth.KeyFolderError, OSError) as exc:
                        # A half-copied or foreign file: keep verifying with the keys known.
                        logger.error("Cannot reload the verifying keys: %s", exc)
            return self._verifying

    def verifying_key_for(self, kid: object) -> Ed25519PublicKey:
        """Return the public key with this id; TokenBackendError for an unknown or missing kid."""
        if not isinstance(kid, str) or not kid:
            raise TokenBackendError("Token has no key id (kid)")
        known = self._verifying
        if time.monotonic() - self._loaded_at >= _REFRESH_SECONDS:
            known = self._reload_verifying()
        key = known.get(kid) or self._reload_verifying().get(kid)
        if key is None:
            raise TokenBackendError("Token is signed with an unknown key id")
        return key

    def encode(self, payload: dict[str, Any]) -> str:
        """Sign a payload with the active key, naming it in the `kid` header."""
        kid, private = self._signing_key()
        return jwt.encode(
            {**payload, "iss": self.issuer},
            private,
            algorithm=auth.ALGORITHM,
            headers={"kid": kid},
        )

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        """Verify a token (EdDSA only, key by kid, issuer, expiry) and return its claims."""
        if not verify:
            return self._decode(token, verify=False)
        raw = token.encode() if isinstance(token, str) else bytes(token)
        now = time.monotonic()
        hit = self._verified.get(raw)
        if hit is not None and hit[1] > now:
            claims = hit[0]
            if claims["exp"] <= time.time() - self.get_leeway().total_seconds():
                raise TokenBackendExpiredToken("Token is expired")
            return dict(claims)
        claims = self._decode(raw, verify=True)
        if len(self._verified) >= _VERIFIED_MAX_ENTRIES:
            self._verified = {}
        self._verified[raw] = (dict(claims), now + _VERIFIED_TTL_SECONDS)
        return claims

    def _decode(self, token: Any, *, verify: bool) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError as exc:
            raise TokenBackendError("Token is malformed") from exc
        # Checked before any key is chosen: `none`, HS256 with the public key as the secret
        # and every other algorithm are refused whatever the rest of the token says.
        if header.get("alg") != auth.ALGORITHM:
            raise TokenBackendError(f"Token algorithm must be {auth.ALGORITHM}")
        if not verify:
            return jwt.decode(token, options={"verify_signature": False})
        key = self.verifying_key_for(header.get("kid"))
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[auth.ALGORITHM],
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={"require": _REQUIRED_CLAIMS},
            )
        except ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken("Token is expired") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenBackendError("Token has the wrong issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenBackendError("Token signature is invalid") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenBackendError(f"Token has no {exc.claim!r} claim") from exc
        except InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid") from exc


def _folder(value: str) -> Path | None:
    return Path(value) if value else None


@lru_cache(maxsize=1)
def token_backend() -> KidTokenBackend:
    """Return this process's backend, on the folders the settings name."""
    return KidTokenBackend(
        signing_dir=_folder(settings.AUTH_SIGNING_KEYS_DIR),
        verifying_dir=_folder(settings.AUTH_VERIFYING_KEYS_DIR),
    )
