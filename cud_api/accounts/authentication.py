"""Bearer authentication of every todos and commands call (simplejwt, thinly subclassed)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from contracts import auth
from contracts.records import DecodeError, parse_owner_id
from cud_api.accounts.tokens import AccessToken
from cud_api.accounts.users import users

REALM = "todo-eda"


class BearerAuthentication(JWTAuthentication):
    """Accept an access token signed by one of our keys, for an active user."""

    www_authenticate_realm = REALM

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401: `Bearer realm="todo-eda"`."""
        return f'Bearer realm="{REALM}"'

    def get_validated_token(self, raw_token: bytes) -> Any:
        """Return the verified access token; InvalidToken naming why it was refused."""
        try:
            return AccessToken(raw_token)
        except TokenError as exc:
            raise InvalidToken(str(exc.args[0])) from exc

    def get_user(self, validated_token: Any) -> User:  # type: ignore[override]  # concrete type
        """Return the token's user if it still exists and is active."""
        try:
            user_id = parse_owner_id(validated_token.get(auth.USER_ID_CLAIM))
        except DecodeError as exc:
            raise InvalidToken("Token has no valid user id") from exc
        user = users.get(user_id)
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        return user
