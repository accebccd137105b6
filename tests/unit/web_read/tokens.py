"""Tokens as the write API signs them, for the read API's unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt

from contracts import auth
from tests.support.users import access_claims

#: The user every `client` request is made as (its todos are those without an `owner_id`).
CALLER = 7


class Tokens:
    """Signs tokens as the write API does, with a key pair made for the test."""

    def __init__(self, folder: Path) -> None:
        self.signing_dir = folder / "signing"
        self.verifying_dir = folder / "verifying"
        self.kid = auth.generate_key(self.signing_dir, self.verifying_dir)
        self.private_pem = auth.load_signing_key(self.signing_dir).private_pem

    def claims(self, user_id: int = CALLER, **overrides: Any) -> dict[str, Any]:
        """Return an access token's claims (simplejwt's), with any of them replaced."""
        return access_claims(user_id, **overrides)

    def sign(
        self,
        claims: dict[str, Any],
        *,
        private_pem: str | None = None,
        kid: str | None = None,
    ) -> str:
        """Return a token over `claims`, signed with the test's key unless told otherwise."""
        return jwt.encode(
            claims,
            private_pem or self.private_pem,
            algorithm=auth.ALGORITHM,
            headers={"kid": kid or self.kid},
        )

    def access(self, user_id: int = CALLER, **overrides: Any) -> str:
        """Return a valid access token for `user_id` (claims overridden as given)."""
        return self.sign(self.claims(user_id, **overrides))

    def header(self, user_id: int = CALLER) -> dict[str, str]:
        """Return the Authorization header of a valid access token."""
        return {"Authorization": f"Bearer {self.access(user_id)}"}
