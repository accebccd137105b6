"""Django-level error handlers: JSON envelopes, never an HTML page or traceback."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from cud_api.core.responses import error_json_response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Answer a request Django itself refused (e.g. a disallowed Host) with the envelope."""
    return error_json_response(status_code=400, message="Bad request.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Answer a forbidden request with the envelope."""
    return error_json_response(status_code=403, message="Forbidden.")


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Answer an unknown URL with the envelope."""
    return error_json_response(status_code=404, message=f"No resource at {request.path}.")


def server_error(request: HttpRequest) -> JsonResponse:
    """Answer an unhandled error with the envelope (the traceback goes to the log only)."""
    return error_json_response(status_code=500, message="Internal server error.")
