"""The read API's docs page: Swagger UI from drf-spectacular-sidecar's files, no CDN."""

from __future__ import annotations

import functools
from importlib.util import find_spec
from pathlib import Path

DOCS_PATH = "/api/docs/"
SCHEMA_PATH = "/api/schema/"
ASSETS_PATH = "/api/docs/assets/"
# The only files served, with their media types: nothing else of the package is reachable.
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
SWAGGER_UI_DIST = ("static", "drf_spectacular_sidecar", "swagger-ui-dist")

PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <title>todo-eda read API</title>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link rel="icon" href="{assets}favicon-32x32.png">
    <link rel="stylesheet" href="{assets}swagger-ui.css">
    <style>body {{ margin: 0; background: #fafafa; }}</style>
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="{assets}swagger-ui-bundle.js"></script>
    <script>
      // validatorUrl null: the default badge would call an outside validator service.
      window.ui = SwaggerUIBundle({{
        url: "{schema}",
        dom_id: "#swagger-ui",
        presets: [SwaggerUIBundle.presets.apis],
        layout: "BaseLayout",
        deepLinking: true,
        // Authorize's token survives a reload of the page (kept in the browser's storage).
        persistAuthorization: true,
        validatorUrl: null,
      }});
    </script>
  </body>
</html>
"""


def page_html() -> str:
    """Return the docs page, loading Swagger UI from the worker itself."""
    return PAGE.format(assets=ASSETS_PATH, schema=SCHEMA_PATH)


def asset(name: str) -> tuple[bytes, str] | None:
    """Return (content, media type) of a Swagger UI file, or None if it is not served."""
    media_type = ASSETS.get(name)
    return None if media_type is None else (_read(name), media_type)


@functools.cache  # only ever called with the few names of ASSETS
def _read(name: str) -> bytes:
    # find_spec locates the package without importing it (its __init__ imports Django).
    spec = find_spec("drf_spectacular_sidecar")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("drf-spectacular-sidecar is not installed")
    return Path(spec.origin).parent.joinpath(*SWAGGER_UI_DIST, name).read_bytes()
