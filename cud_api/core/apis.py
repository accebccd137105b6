"""The health endpoint: each dependency's state, 503 naming the ones that are down."""

from __future__ import annotations

import logging
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

from cud_api.core.responses import error_body, success_body
from cud_api.todos.commands import kafka_check
from cud_api.todos.selectors import postgres_check

logger = logging.getLogger(__name__)


def _probe(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return {"status": "up", **check()}
    except Exception as exc:  # any failure means the dependency is not usable
        return {"status": "down", "error": str(exc).strip() or exc.__class__.__name__}


class HealthApi(APIView):
    """`/health/`: checks PostgreSQL and Kafka with short timeouts; open to anyone."""

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
        states = {"postgres": _probe(postgres_check), "kafka": _probe(kafka_check)}
        down = sorted(name for name, state in states.items() if state["status"] != "up")
        if not down:
            return Response(
                success_body(status_code=200, data=states, message="All dependencies are up")
            )
        logger.warning("Health: down: %s", ", ".join(down))
        body = error_body(
            status_code=503,
            message=f"Unavailable: {', '.join(down)}",
            errors={name: [states[name]["error"]] for name in down},
        )
        body["data"] = states
        return Response(
            body, status=503, headers={"Retry-After": str(settings.RETRY_AFTER_SECONDS)}
        )
