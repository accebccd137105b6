"""OpenAPI: the bearer security scheme of BearerAuthentication, for Swagger UI's Authorize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class BearerAuthenticationScheme(SimpleJWTScheme):
    """simplejwt's scheme (`bearerAuth`, JWT) for the subclass, which it does not match itself."""

    target_class = "cud_api.accounts.authentication.BearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        """An HTTP bearer scheme whose tokens come from `/api/auth/token/`."""
        definition = dict(super().get_security_definition(auto_schema))
        definition["description"] = (
            "An access token from `POST /api/auth/token/` (EdDSA-signed JWT, short-lived)."
        )
        return definition
