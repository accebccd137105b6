"""The health endpoint: each dependency's state and since when, 503 naming the ones down.

Checks feed this process's view of each dependency (cud_api.core.dependency_link), which logs
each change once, whether a check or a request saw it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cud_api.core import dependency_link
from cud_api.core.responses import error_body, success_body
from cud_api.todos.commands import kafka_check
from cud_api.todos.selectors import postgres_check


def _probe(
    link: dependency_link.DependencyLink, check: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    started = time.monotonic()
    try:
        found: dict[str, Any] = {"status": "up", **check()}
    except Exception as exc:  # any failure means the dependency is not usable
        error = str(exc).strip() or exc.__class__.__name__
        link.failed(error)
        return {"status": "down", "error": error, **link.snapshot(), "latency_ms": None}
    latency_s = time.monotonic() - started
    link.answered(latency_s)
    return {**found, **link.snapshot(), "latency_ms": round(latency_s * 1000, 1)}


class HealthApi(APIView):
    """`/health/`: checks PostgreSQL and Kafka with short timeouts; open to anyone.

    Each dependency's `status` is up or down; `state` adds slow, with `since`, `for_s` and,
    while down, `down_for_s`, counted from the first check of this process that saw it so.
    """

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health",
        responses={
            (code, "application/json"): inline_serializer(
                name=f"Health{code}",
                fields={
                    "status": serializers.CharField(),
                    "status_code": serializers.IntegerField(),
                    "data": serializers.DictField(),
                    "message": serializers.CharField(),
                },
            )
            for code in (200, 503)
        },
    )
    def get(self, request: Request) -> Response:
        """Report each dependency; 200 if all are up, else 503 naming those down."""
        found = {
            "postgres": _probe(dependency_link.POSTGRES, postgres_check),
            "kafka": _probe(dependency_link.KAFKA, kafka_check),
        }
        down = sorted(name for name, state in found.items() if state["status"] != "up")
        if not down:
            slow = sorted(name for name, state in found.items() if state["state"] == "slow")
            message = f"All dependencies are up; slow: {', '.join(slow)}" if slow else None
            return Response(
                success_body(
                    status_code=200, data=found, message=message or "All dependencies are up"
                )
            )
        body = error_body(
            status_code=503,
            message=f"Unavailable: {', '.join(down)}",
            errors={
                name: [f"{found[name]['error']} (down for {found[name]['down_for_s']:.0f} s)"]
                for name in down
            },
        )
        body["data"] = found
        return Response(
            body, status=503, headers={"Retry-After": str(settings.RETRY_AFTER_SECONDS)}
        )
