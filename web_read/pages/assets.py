"""`GET /pages/{name}`: the internal pages' own static files, from `web_read/pages/static/`."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import ClassVar

from faust import web

from web_read.api_view import ApiView
from web_read.errors import NotFoundError

STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS_PATH = "/pages/"
MEDIA_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# A flat name with a known suffix: no path separator, so nothing outside the folder is reachable.
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.[a-z]+$")


@functools.cache
def asset(name: str) -> tuple[bytes, str] | None:
    """Return (content, media type) of a static file of the pages, or None if there is none."""
    media_type = MEDIA_TYPES.get(Path(name).suffix)
    if media_type is None or not _NAME.match(name):
        return None
    path = STATIC_DIR / name
    return (path.read_bytes(), media_type) if path.is_file() else None


class PageAssetView(ApiView):
    """Serve one static file of the internal pages; they hold no data, so no check is needed."""

    async def get(self, request: web.Request, name: str) -> web.Response:
        """Return the file, or a JSON 404."""
        found = asset(name)
        if found is None:
            raise NotFoundError()
        content, media_type = found
        return self.bytes(content, content_type=media_type)


class StaticPageView(ApiView):
    """Serve one page's HTML (its script and styles are under /pages/); it holds no data."""

    page: ClassVar[str]

    async def get(self, request: web.Request) -> web.Response:
        """Return the page."""
        found = asset(self.page)
        if found is None:
            raise NotFoundError()
        content, media_type = found
        return self.bytes(content, content_type=media_type)
