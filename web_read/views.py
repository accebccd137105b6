"""Read API views on a Blueprint: list and detail of todos, the worker's health, the docs.

`GET /bench/constant` (only with READ_API_BENCH_PROBE=1): a fixed small JSON body with no
I/O, the benchmark's measure of the web layer's ceiling on this worker.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import orjson
from faust import web
from faust.exceptions import NotReady

from contracts import topics
from contracts.records import encode_todo_key
from streams.app import app, connections, settings
from streams.read_model.page_cache import sole_writer_epoch
from streams.tables import get_public_todo, todos_table
from web_read import docs, openapi
from web_read.api_view import ApiView
from web_read.auth import authenticate
from web_read.errors import (
    NotFoundError,
    UnauthorizedError,
)
from web_read.health import health_report
from web_read.metrics import MetricsView
from web_read.pages import routes as pages
from web_read.params import parse_detail_query, parse_id, parse_list_query, parse_schema_format

log = logging.getLogger(__name__)


class TodoListView(ApiView):
    """`GET /api/todos/`: the caller's live todos from MongoDB's bucket pages, keyset-paginated."""

    async def get(self, request: web.Request) -> web.Response:
        """List todos; `Link: <...>; rel="next"` while buckets remain (a page may be short)."""
        owner_id = authenticate(request.headers)
        query = parse_list_query(request.query.items())
        await connections.open()
        page = await connections.read_model.list_page(
            owner_id=owner_id,
            completed=query.completed,
            after=query.after,
            limit=query.limit,
            # Cached pages are exact only while this worker writes every bucket.
            writer_epoch=sole_writer_epoch(app, topics.CHANGES, settings.topic_partitions),
        )
        headers: dict[str, str] = {}
        if page.next_after is not None:
            next_url = request.url.update_query(after=page.next_after, limit=query.limit)
            headers["Link"] = f'<{next_url}>; rel="next"'
        return self.bytes(page.body(), content_type="application/json", headers=headers)


def _owned_here(todo_id: int) -> bool:
    """Whether this worker is the active owner of the todo's table partition.

    The router's own decision without its cost: `table_route` maps the same key bytes to the
    same partition (`key_partition`) and forwards unless the assignment that made this
    worker active for it names this worker's URL (both come from one assignment).
    """
    try:
        tp = app.producer.key_partition(_changelog_topic(), encode_todo_key(todo_id))
    except NotReady:  # the worker's producer has not started: let the router decide
        return False
    return app.assignor.is_active(tp)


@functools.cache
def _changelog_topic() -> str:
    return todos_table.changelog_topic.get_topic_name()


class TodoDetailView(ApiView):
    """`GET /api/todos/{id}/`: one of the caller's todos from the table, by the key's owner.

    Another user's todo is a 404 with the same body as a missing one. A request routed to
    the partition's owner carries the caller's own `Authorization` header (faust's router
    forwards the request's headers), and the owner verifies that token again: no worker
    takes a user id from another's word.
    """

    async def get(self, request: web.Request, id: str) -> web.Response:
        """Authenticate and validate; answer here when this worker owns the id, else route."""
        owner_id = authenticate(request.headers)
        todo_id = parse_id(id)  # a malformed id is a 400 here, before it reaches the key codec
        parse_detail_query(request.query.items())
        if _owned_here(todo_id):
            return self.answer(todo_id, owner_id)
        response: web.Response = await self.routed(request)
        if response.status == 401 and "WWW-Authenticate" not in response.headers:
            # faust's router keeps only the body and the status of the owner's answer.
            response.headers["WWW-Authenticate"] = UnauthorizedError("token refused").challenge
        return response

    # Faust types the handler as taking a plain View; ours is a subclass of it.
    @app.table_route(table=todos_table, match_info="id")  # type: ignore[arg-type]
    async def routed(self, request: web.Request, **kwargs: Any) -> web.Response:
        """Forward to the key's owner (table_route), or answer here if that is this worker."""
        return self.answer(parse_id(request.match_info["id"]), authenticate(request.headers))

    def answer(self, todo_id: int, owner_id: int) -> web.Response:
        """The caller's todo as this worker's table holds it, or a 404."""
        todo = get_public_todo(todo_id, owner_id)
        if todo is None:
            raise NotFoundError()
        return self.json_bytes(todo)


class HealthView(ApiView):
    """`GET /health`: 200 when consuming, recovered and MongoDB answers; 503 otherwise."""

    async def get(self, request: web.Request) -> web.Response:
        """Report each check; 503 names the failing ones under `problems`."""
        await connections.open()
        healthy, report = await health_report(app, connections.read_model)
        return self.json_bytes(report, status=200 if healthy else 503)


class SchemaView(ApiView):
    """`GET /api/schema/`: the read API's OpenAPI 3 document (`?format=yaml` for YAML)."""

    async def get(self, request: web.Request) -> web.Response:
        """Return the document in the asked format."""
        if parse_schema_format(request.query.items()) == "yaml":
            return self.bytes(openapi.document_yaml(), content_type=openapi.YAML_MEDIA_TYPE)
        return self.bytes(openapi.document_json(), content_type=openapi.JSON_MEDIA_TYPE)


class DocsView(ApiView):
    """`GET /api/docs/`: Swagger UI over the read API's document."""

    async def get(self, request: web.Request) -> web.Response:
        """Return the docs page."""
        return self.html(docs.page_html())


class DocsAssetView(ApiView):
    """`GET /api/docs/assets/{name}`: one of Swagger UI's files, from the installed package."""

    async def get(self, request: web.Request, name: str) -> web.Response:
        """Return the file, or 404 for a name that is not one of them."""
        found = docs.asset(name)
        if found is None:
            raise NotFoundError()
        content, media_type = found
        return self.bytes(content, content_type=media_type)


CONSTANT_BODY = orjson.dumps({"status": "ok"})


class ConstantView(web.View):
    """`GET /bench/constant`: the same small JSON body every time, with no I/O at all."""

    async def get(self, request: web.Request) -> web.Response:
        """Return the constant body."""
        return self.bytes(CONSTANT_BODY, content_type="application/json")


def routes(*, bench_probe: bool = False) -> list[tuple[str, str, type[web.View]]]:
    """Every route of the read API as (path, name, view), each with and without a slash."""
    views: list[tuple[str, str, type[web.View]]] = [
        ("/api/todos", "api-list", TodoListView),
        ("/todos", "list", TodoListView),
        ("/api/todos/{id}", "api-detail", TodoDetailView),
        ("/todos/{id}", "detail", TodoDetailView),
        ("/health", "health", HealthView),
        ("/metrics", "metrics", MetricsView),
        (docs.SCHEMA_PATH.rstrip("/"), "api-schema", SchemaView),
        (docs.DOCS_PATH.rstrip("/"), "api-docs", DocsView),
        (f"{docs.ASSETS_PATH}{{name}}", "api-docs-asset", DocsAssetView),
    ]
    views.extend(pages.ROUTES)
    if bench_probe:
        views.append(("/bench/constant", "bench-constant", ConstantView))
    return [
        (path, f"{name}{suffix}", view)
        for base, name, view in views
        for path, suffix in ((base, ""), (base + "/", "-slash"))
    ]
