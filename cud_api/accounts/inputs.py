"""Request bodies of the auth endpoints, validated by DRF serializers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from cud_api.accounts.tokens import RefreshToken

USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length or 150
# Longer passwords only cost hashing time; Django's own forms have no limit, 4 KiB is plenty.
PASSWORD_MAX_LENGTH = 4096


class _NoUnknownFields(serializers.Serializer):
    """Refuse fields the endpoint does not know, as the todos endpoints do."""

    def to_internal_value(self, data: Any) -> Any:
        """Validate the fields, then name every unknown one."""
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Expected a JSON object."]}, code="invalid"
            )
        unknown = sorted(set(data) - set(self.fields))
        value = super().to_internal_value(data)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return value


class RegisterInput(_NoUnknownFields):
    """`{"username", "password"}`: a free username and a password Django's validators accept."""

    username = serializers.CharField(
        max_length=USERNAME_MAX_LENGTH, validators=[UnicodeUsernameValidator()]
    )
    password = serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, write_only=True
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Run AUTH_PASSWORD_VALIDATORS against the password (and the username it resembles)."""
        try:
            password_validation.validate_password(
                attrs["password"], User(username=attrs["username"])
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class TokenObtainInput(_NoUnknownFields, TokenObtainPairSerializer):
    """`{"username", "password"}` -> a refresh token and an access token (kid-signed)."""

    token_class = RefreshToken


class TokenRefreshInput(_NoUnknownFields):
    """`{"refresh"}`: a refresh token to trade for a new access token."""

    refresh = serializers.CharField(max_length=PASSWORD_MAX_LENGTH)
