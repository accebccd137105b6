"""drf-spectacular hooks: documented routes, and pydantic request bodies as they validate."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.contrib.pydantic import PydanticExtension
from drf_spectacular.plumbing import ResolvedComponent
from pydantic.json_schema import model_json_schema


def documented_endpoints_only(
    endpoints: list[tuple[Any, ...]], **kwargs: Any
) -> list[tuple[Any, ...]]:
    """Document the `/api/...` routes and `/health/`, not their unprefixed aliases."""
    return [e for e in endpoints if e[0].startswith(("/api/", "/health"))]


class PydanticBodyExtension(PydanticExtension):
    """A pydantic model's JSON Schema in the mode it is used: validation for request bodies.

    drf-spectacular's own extension always uses serialization mode, which describes what a
    model emits rather than what it accepts.
    """

    priority = 1

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        """Return the model's JSON Schema, its sub-schemas registered as components."""
        mode: Literal["validation", "serialization"] = (
            "validation" if direction == "request" else "serialization"
        )
        schema = model_json_schema(
            self.target, ref_template="#/components/schemas/{model}", mode=mode
        )
        for name, sub_schema in schema.pop("$defs", {}).items():
            component = ResolvedComponent(
                name=name, type=ResolvedComponent.SCHEMA, object=name, schema=sub_schema
            )
            auto_schema.registry.register_on_missing(component)
        return schema


def request_bodies_required(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Mark every request body required: a missing body is read as `{}` and refused.

    drf-spectacular derives `required` from required properties, which a PATCH body has none
    of (it needs any one, `minProperties: 1`).
    """
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result
