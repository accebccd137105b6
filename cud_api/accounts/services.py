"""Writes and token issuing of the accounts app."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from contracts import auth
from contracts.records import DecodeError, parse_owner_id
from cud_api.accounts.tokens import AccessToken, RefreshToken
from cud_api.core.exceptions import ApplicationError

USERNAME_TAKEN = "A user with that username already exists."


def user_register(*, username: str, password: str) -> User:
    """Create an active user with this password; 400 if the username is taken."""
    if User.objects.filter(username=username).exists():
        raise ApplicationError("Invalid input.", {"username": [USERNAME_TAKEN]})
    try:
        with transaction.atomic():
            return User.objects.create_user(username=username, password=password)
    except IntegrityError as exc:  # a concurrent sign-up took it between the check and here
        raise ApplicationError("Invalid input.", {"username": [USERNAME_TAKEN]}) from exc


def access_token_refresh(*, refresh: str) -> str:
    """Return a new access token for a valid refresh token of an active user."""
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise InvalidToken(str(exc.args[0])) from exc
    try:
        user_id = parse_owner_id(token.get(auth.USER_ID_CLAIM))
    except DecodeError as exc:
        raise InvalidToken("Token has no valid user id") from exc
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise AuthenticationFailed("User not found", code="user_not_found")
    if not user.is_active:
        raise AuthenticationFailed("User is inactive", code="user_inactive")
    access = token.access_token
    # Staff status as it is now, not as it was when the refresh token was issued.
    if user.is_staff:
        access[auth.STAFF_CLAIM] = True
    elif auth.STAFF_CLAIM in access:
        del access[auth.STAFF_CLAIM]
    return str(access)


def access_token_issue(*, username: str) -> str:
    """Return a fresh access token for an active user (management command `issue_token`)."""
    user = User.objects.filter(username=username).first()
    if user is None or not user.is_active:
        raise ApplicationError(f"No active user {username!r}.")
    return str(AccessToken.for_user(user))
