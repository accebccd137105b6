"""The health endpoint: each dependency's state and since when, 503 naming the ones down.

Each change of state is logged once ("kafka down", "kafka back after 12.3 s"), not each check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
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

# A check slower than this is slow; SLOW_CHECKS slow checks in a row (not one spike) make the
# dependency's state "slow", a warning beside "up".
SLOW_SECONDS = 0.5
SLOW_CHECKS = 2


@dataclass
class _Seen:
    state: str
    since: float
    since_wall: float
    slow_checks: int = 0


class DependencyStates:
    """Since when each dependency has been in its state, as this process's checks saw it."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
    ) -> None:
        self._clock, self._wall = clock, wall
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()  # gunicorn's threads share the process's states

    def observe(self, name: str, up: bool, latency_s: float) -> dict[str, Any]:
        """Record one check; return its state (up, slow, down), since when and for how long."""
        now = self._clock()
        with self._lock:
            seen = self._seen.get(name)
            slow_checks = (seen.slow_checks if seen else 0) + 1 if latency_s > SLOW_SECONDS else 0
            state = "down" if not up else "slow" if slow_checks >= SLOW_CHECKS else "up"
            if seen is None or seen.state != state:
                if seen is not None and seen.state == "down":
                    logger.info("%s back after %.1f s", name, now - seen.since)
                elif state == "down" or state == "slow":
                    logger.warning("%s %s", name, state)
                seen = self._seen[name] = _Seen(state, now, self._wall())
            seen.slow_checks = slow_checks
        body: dict[str, Any] = {
            "state": state,
            "since": datetime.fromtimestamp(seen.since_wall, UTC).isoformat(timespec="seconds"),
            "for_s": round(now - seen.since, 1),
            "latency_ms": round(latency_s * 1000, 1),
        }
        if state == "down":
            body["down_for_s"] = body["for_s"]
        return body


states = DependencyStates()


def _probe(name: str, check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        found: dict[str, Any] = {"status": "up", **check()}
    except Exception as exc:  # any failure means the dependency is not usable
        found = {"status": "down", "error": str(exc).strip() or exc.__class__.__name__}
    return {**found, **states.observe(name, found["status"] == "up", time.monotonic() - started)}


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
            "postgres": _probe("postgres", postgres_check),
            "kafka": _probe("kafka", kafka_check),
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
