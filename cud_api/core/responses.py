"""The response envelopes every endpoint of the write API uses."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import JsonResponse
from rest_framework.response import Response


def success_body(*, status_code: int, data: Any, message: str) -> dict[str, Any]:
    """Build the success envelope `{"status": "success", "status_code", "data", "message"}`."""
    return {"status": "success", "status_code": status_code, "data": data, "message": message}


def success_response(
    data: Any, message: str, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Answer with the success envelope around `data`, its status code in body and line."""
    return Response(
        success_body(status_code=status, data=data, message=message), status=status, headers=headers
    )


def error_body(
    *, status_code: int, message: str, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build the error envelope `{"status": "error", "status_code", "errors", "message"}`."""
    return {
        "status": "error",
        "status_code": status_code,
        "errors": errors or {},
        "message": message,
    }


def error_json_response(
    *, status_code: int, message: str, errors: dict[str, Any] | None = None
) -> JsonResponse:
    """Answer with the error envelope outside DRF (middleware, Django-level handlers)."""
    response = JsonResponse(
        error_body(status_code=status_code, message=message, errors=errors), status=status_code
    )
    if status_code == 503:
        response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    return response
