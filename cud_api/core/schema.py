"""drf-spectacular hooks."""

from __future__ import annotations

from typing import Any


def documented_endpoints_only(
    endpoints: list[tuple[Any, ...]], **kwargs: Any
) -> list[tuple[Any, ...]]:
    """Document the `/api/...` routes and `/health/`, not their unprefixed aliases."""
    return [e for e in endpoints if e[0].startswith(("/api/", "/health"))]
