"""`GET /pipeline` (the live pipeline page) and `GET /pipeline/state` (the JSON it polls).

The page is a static file: it holds no data and is open to anyone. Its JSON is internal data
(loopback callers or staff tokens). With several workers in the group, each one's own events
and latency samples are summed over the members' `?local=1` answers; the members are the
web URLs faust's assignor shares with every worker at each rebalance.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import aiohttp
from faust import web
from faust.types import AppT

from streams.app import app
from streams.monitoring.history import history
from web_read.api_view import ApiView
from web_read.errors import BadRequestError
from web_read.internal import require_internal_access
from web_read.pages.assets import StaticPageView
from web_read.pages.pipeline_state import (
    MalformedWindowsError,
    Peer,
    StateInputs,
    parse_windows,
    state_json,
    windows_json,
)

PAGE = "pipeline.html"
PEER_SECONDS = 1.5


def own_url(app: AppT) -> str:
    """Return this worker's web URL as the assignor advertises it to the group."""
    return str(app.conf.canonical_url)


def member_urls(app: AppT) -> list[str]:
    """Return the web URLs of the group's other members, from the last assignment."""
    mine = own_url(app)
    members = app.assignor.tables_metadata()
    return sorted(url for url in members if url != mine)


def parse_local(query: Mapping[str, str]) -> bool:
    """Return whether `?local=` asks for this worker's windows only; else a 400."""
    value = query.get("local", "0")
    if value not in ("0", "1"):
        raise BadRequestError("local must be 0 or 1.")
    return value == "1"


async def ask_peer(session: aiohttp.ClientSession, url: str, headers: Mapping[str, str]) -> Peer:
    """Ask another worker for its windows; a worker that does not answer is shown as such."""
    try:
        async with session.get(
            f"{url.rstrip('/')}/pipeline/state", params={"local": "1"}, headers=headers
        ) as response:
            if response.status != 200:
                return Peer(url, None, f"answered {response.status}")
            body = await response.json(content_type=None)
        return Peer(url, parse_windows(body))
    except (aiohttp.ClientError, TimeoutError, ValueError, MalformedWindowsError) as exc:
        return Peer(url, None, type(exc).__name__)


async def ask_peers(urls: list[str], authorization: str | None) -> list[Peer]:
    """Ask every other worker at once, each within PEER_SECONDS."""
    if not urls:
        return []
    # The caller's own credentials: a worker grants a peer no more than it grants the caller.
    headers = {"Authorization": authorization} if authorization else {}
    timeout = aiohttp.ClientTimeout(total=PEER_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        return list(await asyncio.gather(*(ask_peer(session, url, headers) for url in urls)))


class PipelinePageView(StaticPageView):
    """`GET /pipeline`: the live pipeline page."""

    page = PAGE


class PipelineStateView(ApiView):
    """`GET /pipeline/state`: every stage's state and figures, and the recent history."""

    async def get(self, request: web.Request) -> web.Response:
        """Return the group's view (`?local=1`: only this worker's windows, for its peers)."""
        require_internal_access(request)
        mine = own_url(app)
        if parse_local(request.query):
            return self.json_bytes(windows_json(mine, history))
        peers = await ask_peers(member_urls(app), request.headers.get("Authorization"))
        inputs = StateInputs(worker=mine, history=history, peers=peers, now=time.time())
        return self.json_bytes(state_json(inputs))
