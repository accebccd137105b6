"""simplejwt's access and refresh tokens, signed and verified by the kid-aware backend."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.exceptions import (
    TokenBackendError,
    TokenBackendExpiredToken,
    TokenError,
)

from contracts import auth
from cud_api.accounts import backend


class _KidToken(tokens.Token):
    """A token that uses this project's backend and keeps the backend's reason for a refusal."""

    def __init__(self, token: Any = None, verify: bool = True) -> None:
        try:
            super().__init__(token, verify)
        except TokenError as exc:
            # simplejwt replaces every backend error with "Token is invalid"; the reason
            # (unknown kid, wrong algorithm, wrong issuer...) is more use to a client.
            cause = exc.__cause__
            if isinstance(cause, TokenBackendError) and not isinstance(
                cause, TokenBackendExpiredToken
            ):
                raise TokenError(str(cause)) from cause
            raise

    @classmethod
    def for_user(cls, user: Any) -> Any:
        """Return a token for `user`, marked as a staff user's when it is one."""
        token = super().for_user(user)
        if user.is_staff:
            token[auth.STAFF_CLAIM] = True
        return token

    @property
    def token_backend(self) -> backend.KidTokenBackend:
        """The kid-aware backend instead of simplejwt's single-key one."""
        return backend.token_backend()

    def get_token_backend(self) -> backend.KidTokenBackend:
        """Return the kid-aware backend instead of simplejwt's single-key one."""
        return backend.token_backend()


class AccessToken(_KidToken, tokens.AccessToken):
    """A short-lived token that authenticates API calls."""


class RefreshToken(_KidToken, tokens.RefreshToken):
    """A longer-lived token that only buys new access tokens."""

    access_token_class = AccessToken
