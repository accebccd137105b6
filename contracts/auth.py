"""Access tokens both APIs share: the algorithm, the claims and the key folders' layout.

The write API signs with a private key; the read API verifies with the public keys only
(docs/decisions/authentication.md). Keys are Ed25519 PEM files named by their key id, which
every token carries in its `kid` header, so a key can be rotated while older tokens live on:

- signing folder (write API only, mode 700): `<kid>.pem` private keys (mode 600) and
  `active`, the kid new tokens are signed with;
- verifying folder (both APIs): `<kid>.pem` public keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: JWS algorithm of every token (Ed25519 signatures).
ALGORITHM = "EdDSA"
#: Claim holding the user's id, as decimal text (djangorestframework-simplejwt's default).
USER_ID_CLAIM = "user_id"
#: Claim telling an access token from a refresh token.
TOKEN_TYPE_CLAIM = "token_type"  # noqa: S105 (a claim name, not a secret)
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 (a claim value, not a secret)
#: Claim present (true) in the tokens of a staff user: the read API's internal pages need it.
STAFF_CLAIM = "staff"
#: `iss` of every token; both APIs refuse another issuer.
ISSUER = "todo-eda"

#: Environment variables naming the folders (the launcher sets both from the state folder).
SIGNING_KEYS_DIR_VARIABLE = "AUTH_SIGNING_KEYS_DIR"
VERIFYING_KEYS_DIR_VARIABLE = "AUTH_VERIFYING_KEYS_DIR"
#: The folders inside the state folder.
SIGNING_KEYS_SUBDIR = "secrets/auth-signing-keys"
VERIFYING_KEYS_SUBDIR = "auth-verifying-keys"
ACTIVE_KID_FILE = "active"
KEY_SUFFIX = ".pem"


class KeyFolderError(RuntimeError):
    """A key folder that cannot be used; the message says why."""


@dataclass(frozen=True)
class SigningKey:
    """The private key new tokens are signed with, and its id."""

    kid: str
    private_pem: str


def key_id(public_key: Ed25519PublicKey) -> str:
    """Return a public key's id: the first 16 characters of its raw bytes' SHA-256, base64url."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).decode()[:16]


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def write_secret_file(path: Path) -> Path:
    """Put a new random secret into `path` (mode 600), replacing any; return the path."""
    # A folder made here is private (700); one that exists is left as its owner set it.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.new")
    staged.unlink(missing_ok=True)
    _write_private(staged, (secrets.token_urlsafe(48) + "\n").encode())
    # Replaced atomically: a reader sees the old secret or the new one, whole.
    staged.replace(path)
    return path


def ensure_secret_file(path: Path) -> Path:
    """Make the secret file unless it exists with a secret in it; return its path."""
    try:
        if path.read_text().strip():
            return path
    except FileNotFoundError:
        pass
    return write_secret_file(path)


def read_secret_file(path: Path | str | None) -> str:
    """Return the secret in file `path`, stripped; "" when no path is given or it is unreadable."""
    if not path:
        return ""
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


#: The write API's Django secret key: DJANGO_SECRET_KEY itself, or else the file this variable
#: names (what the compose file's `keys` one-shot generates; the native launcher passes the key).
DJANGO_SECRET_KEY_FILE_VARIABLE = "DJANGO_SECRET_KEY_FILE"  # noqa: S105 (a name)


def generate_key(signing_dir: Path, verifying_dir: Path) -> str:
    """Create a key pair in the two folders, make it the active one, and return its kid."""
    signing_dir.mkdir(parents=True, exist_ok=True)
    signing_dir.chmod(0o700)
    verifying_dir.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    kid = key_id(private.public_key())
    _write_private(
        signing_dir / f"{kid}{KEY_SUFFIX}",
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    (verifying_dir / f"{kid}{KEY_SUFFIX}").write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    # Written last and replaced atomically: a reader sees the old kid or the new, whole.
    staged = signing_dir / f".{ACTIVE_KID_FILE}.new"
    staged.write_text(kid + "\n")
    staged.replace(signing_dir / ACTIVE_KID_FILE)
    return kid


def ensure_key(signing_dir: Path, verifying_dir: Path) -> str:
    """Return the active kid, generating the first key pair if there is none."""
    active = signing_dir / ACTIVE_KID_FILE
    if active.exists():
        return active.read_text().strip()
    return generate_key(signing_dir, verifying_dir)


def load_signing_key(signing_dir: Path) -> SigningKey:
    """Return the active private key of a signing folder."""
    try:
        kid = (signing_dir / ACTIVE_KID_FILE).read_text().strip()
        pem = (signing_dir / f"{kid}{KEY_SUFFIX}").read_text()
    except OSError as exc:
        raise KeyFolderError(f"no active signing key in {signing_dir}: {exc}") from exc
    return SigningKey(kid=kid, private_pem=pem)


def load_verifying_keys(verifying_dir: Path) -> dict[str, Ed25519PublicKey]:
    """Return every public key of a verifying folder by kid (empty if the folder is absent)."""
    keys: dict[str, Ed25519PublicKey] = {}
    if not verifying_dir.is_dir():
        return keys
    for path in sorted(verifying_dir.glob(f"*{KEY_SUFFIX}")):
        loaded = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(loaded, Ed25519PublicKey):
            raise KeyFolderError(f"{path} is not an Ed25519 public key")
        kid = path.name.removesuffix(KEY_SUFFIX)
        if key_id(loaded) != kid:
            raise KeyFolderError(f"{path}: file name does not match the key's id {key_id(loaded)}")
        keys[kid] = loaded
    return keys


#: The metrics scrape token: a random secret in a file (mode 600) whose path both APIs read
#: from this variable; `Authorization: Bearer <secret>` then opens `/metrics`, and only it, to a
#: scraper that is not on loopback (Prometheus in a container). Unset, or a missing or empty
#: file: no scrape token is accepted.
METRICS_SCRAPE_TOKEN_FILE_VARIABLE = "METRICS_SCRAPE_TOKEN_FILE"  # noqa: S105 (a name)
#: Where the launcher keeps it, inside the state folder.
METRICS_SCRAPE_TOKEN_SUBPATH = "secrets/metrics_scrape_token"  # noqa: S105 (a path)
#: The file is read again at most this often, so a rotated secret is picked up without a restart.
SCRAPE_TOKEN_RELOAD_SECONDS = 5.0


class ScrapeToken:
    """The scrape token of one file, read again at most every SCRAPE_TOKEN_RELOAD_SECONDS."""

    def __init__(
        self,
        path: Path | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        reload_seconds: float = SCRAPE_TOKEN_RELOAD_SECONDS,
    ) -> None:
        self.path = path
        self._clock = clock
        self._reload_seconds = reload_seconds
        self._secret = b""
        self._loaded_at: float | None = None

    def _current(self) -> bytes:
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at >= self._reload_seconds:
            self._loaded_at = now
            self._secret = read_secret_file(self.path).encode()
        return self._secret

    def accepts(self, presented: str) -> bool:
        """Return whether `presented` is the file's secret (never for a missing or empty file)."""
        secret = self._current()
        # compare_digest: the time taken says nothing about how much of the secret matched.
        return bool(secret) and hmac.compare_digest(secret, presented.encode("utf-8", "replace"))


def scrape_token_from_env(env: Mapping[str, str]) -> ScrapeToken:
    """The scrape token of the file METRICS_SCRAPE_TOKEN_FILE names (none accepted if unset)."""
    value = env.get(METRICS_SCRAPE_TOKEN_FILE_VARIABLE, "").strip()
    return ScrapeToken(Path(value) if value else None)
