"""Content negotiation: DRF's, decided at once for the clients that accept anything."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class FirstRendererNegotiation(DefaultContentNegotiation):
    """DRF's default negotiation, without parsing an Accept of `*/*` (or of exactly the
    first renderer's type): for those DRF picks the first renderer and its media type."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        """Return (renderer, media type) as DefaultContentNegotiation would."""
        renderers = list(renderers)
        first = renderers[0]
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if (
            not format_suffix
            and accept in ("*/*", first.media_type)
            # No query string, no `?format=` (and no QueryDict built to find that out).
            and (
                not request.META.get("QUERY_STRING")
                or self.settings.URL_FORMAT_OVERRIDE not in request.query_params
            )
        ):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
