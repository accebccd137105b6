"""The base of every read API view: JSON through orjson, and errors as JSON responses."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from faust import web
from faust.web.exceptions import WebError
from pymongo.errors import ExecutionTimeout, PyMongoError

from web_read.errors import InternalServerError, UnauthorizedError, UnavailableError, error_body

log = logging.getLogger(__name__)


class ApiView(web.View):
    """Base view: JSON via orjson, and the one place where errors become responses."""

    async def dispatch(self, request: Any) -> Any:
        """Serve the request; a WebError keeps its status, anything else is a JSON 5xx."""
        try:
            return await super().dispatch(request)
        except ExecutionTimeout as exc:
            log.warning("MongoDB query too slow for %s: %r", request.path, exc)
            return await self.on_request_error(
                request, UnavailableError("The read model is busy: retry later.")
            )
        except PyMongoError as exc:
            log.warning("MongoDB unavailable for %s: %r", request.path, exc)
            return await self.on_request_error(request, UnavailableError("MongoDB is unavailable."))
        except Exception:
            log.exception("unhandled error serving %s", request.path)
            return await self.on_request_error(request, InternalServerError())

    async def on_request_error(self, request: web.Request, exc: WebError) -> web.Response:
        """Render a WebError as `{"detail": ...}` with its status (a 401 with its challenge)."""
        headers = (
            {"WWW-Authenticate": exc.challenge} if isinstance(exc, UnauthorizedError) else None
        )
        return self.json_bytes(error_body(exc), status=int(exc.code), headers=headers)

    def json_bytes(
        self, value: Any, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        """Return a JSON response serialized with orjson."""
        return self.bytes(
            orjson.dumps(value), content_type="application/json", status=status, headers=headers
        )
