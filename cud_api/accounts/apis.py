"""HTTP endpoints of the accounts app: sign up, sign in, refresh; answers in the envelope."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from cud_api.accounts import openapi as _openapi  # noqa: F401  (registers the bearer scheme)
from cud_api.accounts.authentication import REALM
from cud_api.accounts.inputs import RegisterInput, TokenObtainInput, TokenRefreshInput
from cud_api.accounts.services import access_token_refresh, user_register
from cud_api.accounts.throttling import LoginFailureThrottle
from cud_api.core.exceptions import ForbiddenError
from cud_api.core.responses import success_response
from cud_api.todos.openapi import ERROR_SCHEMA, envelope_schema

REGISTRATION_OFF = "Self-service registration is turned off on this server."

_TOKENS = envelope_schema(
    "TokensEnvelope",
    inline_serializer(
        name="Tokens",
        fields={"access": serializers.CharField(), "refresh": serializers.CharField()},
    ),
)
_ACCESS = envelope_schema(
    "AccessTokenEnvelope",
    inline_serializer(name="AccessToken", fields={"access": serializers.CharField()}),
)
_REGISTERED = envelope_schema(
    "RegisteredUserEnvelope",
    inline_serializer(
        name="RegisteredUser",
        fields={"id": serializers.IntegerField(), "username": serializers.CharField()},
    ),
)
_INVALID = OpenApiResponse(ERROR_SCHEMA, "Malformed JSON or invalid fields.")


class _OpenApi(APIView):
    """An endpoint that needs no token; its 401s still carry the Bearer challenge."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get_authenticate_header(self, request: Request) -> str:
        """The challenge of a 401 (without it DRF would answer 403)."""
        return f'Bearer realm="{REALM}"'


class RegisterApi(_OpenApi):
    """`/api/auth/register/`: self-service sign-up (off when CUD_API_REGISTRATION=0)."""

    @extend_schema(
        operation_id="auth_register",
        request=RegisterInput,
        responses={
            201: _REGISTERED,
            400: OpenApiResponse(
                ERROR_SCHEMA, "Invalid or taken username, or a password Django refuses."
            ),
            403: OpenApiResponse(ERROR_SCHEMA, "Registration is turned off."),
        },
    )
    def post(self, request: Request) -> Response:
        """Create a user; sign in with `/api/auth/token/` afterwards."""
        if not settings.CUD_API_REGISTRATION:
            raise ForbiddenError(REGISTRATION_OFF, {"registration": ["Turned off."]})
        serializer = RegisterInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_register(**serializer.validated_data)
        return success_response(
            {"id": user.pk, "username": user.username}, "User registered", status=201
        )


class TokenObtainApi(_OpenApi):
    """`/api/auth/token/`: username and password -> access and refresh tokens."""

    throttle_classes = [LoginFailureThrottle]

    def get_throttles(self) -> list[BaseThrottle]:
        """The same throttle objects for the check and for counting this request's failure."""
        if not hasattr(self, "_throttles"):
            self._throttles = [throttle() for throttle in self.throttle_classes]
        return self._throttles

    @extend_schema(
        operation_id="auth_token_obtain",
        request=inline_serializer(
            name="TokenObtainRequest",
            fields={"username": serializers.CharField(), "password": serializers.CharField()},
        ),
        responses={
            200: _TOKENS,
            400: _INVALID,
            401: OpenApiResponse(ERROR_SCHEMA, "Wrong username or password, or inactive user."),
            429: OpenApiResponse(ERROR_SCHEMA, "Too many failed sign-ins; see Retry-After."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        """Check the password and issue a token pair."""
        serializer = TokenObtainInput(data=request.data, context={"request": request})
        try:
            serializer.is_valid(raise_exception=True)
        except AuthenticationFailed:
            for throttle in self.get_throttles():
                if isinstance(throttle, LoginFailureThrottle):
                    throttle.record_failure()
            raise
        tokens = serializer.validated_data
        return success_response(
            {"access": tokens["access"], "refresh": tokens["refresh"]}, "Signed in"
        )


class TokenRefreshApi(_OpenApi):
    """`/api/auth/token/refresh/`: a refresh token -> a new access token."""

    @extend_schema(
        operation_id="auth_token_refresh",
        request=TokenRefreshInput,
        responses={
            200: _ACCESS,
            400: _INVALID,
            401: OpenApiResponse(
                ERROR_SCHEMA, "Invalid or expired refresh token, or inactive or deleted user."
            ),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        """Issue a new access token (the refresh token itself is not rotated)."""
        serializer = TokenRefreshInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        access = access_token_refresh(refresh=serializer.validated_data["refresh"])
        return success_response({"access": access}, "Token refreshed")
