"""The read API: Faust web views served by the worker on :8080, attached by `register`."""

from __future__ import annotations

import faust


def register(app: faust.App, *, bench_probe: bool = False) -> None:
    """Serve the read API's routes on `app`'s web server (the constant probe only if asked)."""
    from faust import web

    from web_read.views import routes

    blueprint = web.Blueprint("todos")
    for path, name, view in routes(bench_probe=bench_probe):
        blueprint.route(path, name=name)(view)
    blueprint.register(app)
