"""`GET /pipeline` and `GET /pipeline/state`: the open page, its internal JSON, the group's sum."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from streams.app import settings
from streams.monitoring.history import PipelineHistory
from tests.unit.streams.history_readings import buckets, counts, offsets, reading
from web_read.pages import pipeline
from web_read.pages.pipeline_state import windows_json


@pytest.fixture
def history(monkeypatch) -> PipelineHistory:
    """Two samples with writes between them, as the view's history."""
    made = PipelineHistory()
    t0 = time.time() - 6  # the newest window is fresh, so its rates count
    made.record(reading(t=t0, offsets=offsets((10, 10), (10, 10))))
    made.record(
        reading(
            t=t0 + 5,
            offsets=offsets((35, 35), (30, 30)),
            counts=counts(50, 50, 40, 40, latency=buckets(40, 40, 40, 40)),
        )
    )
    monkeypatch.setattr(pipeline, "history", made)
    return made


@pytest.fixture
def loopback_off(monkeypatch):
    """The internal pages with READ_API_INTERNAL_LOOPBACK=0."""
    monkeypatch.setattr("web_read.internal.settings", replace(settings, internal_loopback=False))


async def test_the_page_is_open_and_all_it_loads_is_its_own(anonymous, loopback_off):
    response = await anonymous.get("/pipeline")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = await response.text()
    loaded = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {"/pages/pipeline.js", "/pages/pipeline.css", "/pages/internal.css"} <= set(loaded)
    assert {"/topics", "/metrics"} <= set(loaded)
    assert all(url.startswith(("/", "data:")) for url in loaded), loaded
    for asset in ("/pages/pipeline.js", "/pages/pipeline.css"):
        assert (await anonymous.get(asset)).status == 200


async def test_the_page_script_fetches_only_the_state_json(anonymous):
    script = await (await anonymous.get("/pages/pipeline.js")).text()
    assert re.findall(r'fetch\("([^"]+)"', script) == ["/pipeline/state"]
    assert "http" not in script.replace("http://www.w3.org/2000/svg", "")


async def test_a_loopback_caller_gets_the_nine_stages_and_the_history(anonymous, history):
    response = await anonymous.get("/pipeline/state")
    assert response.status == 200
    body = await response.json()
    assert len(body["stages"]) == 9
    assert body["stages"][2]["id"] == "command_agent" and body["stages"][2]["rate"] == 10.0
    assert body["history"]["t"] == [s.t for s in history.samples]
    assert body["history"]["latency_p99"][1] is not None
    assert body["workers"][0]["self"] is True


async def test_without_the_loopback_rule_the_state_needs_a_staff_token(
    anonymous, tokens, loopback_off, history
):
    response = await anonymous.get("/pipeline/state")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await anonymous.get("/pipeline/state", headers=tokens.header())).status == 403
    staff = {"Authorization": f"Bearer {tokens.access(staff=True)}"}
    response = await anonymous.get("/pipeline/state", headers=staff)
    assert response.status == 200
    assert len((await response.json())["stages"]) == 9


async def test_local_asks_for_this_workers_windows_only(anonymous, history):
    response = await anonymous.get("/pipeline/state?local=1")
    assert response.status == 200
    body = await response.json()
    assert body["windows"]["commands"] == [50.0]
    assert "stages" not in body


async def test_a_malformed_local_is_a_json_400(anonymous, history):
    response = await anonymous.get("/pipeline/state?local=yes")
    assert response.status == 400
    assert (await response.json())["detail"] == "local must be 0 or 1."


async def test_the_other_workers_are_asked_with_the_callers_token_and_summed(
    anonymous, tokens, history, monkeypatch
):
    seen: list[str | None] = []

    async def peer_state(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        assert request.query["local"] == "1"
        return web.json_response(windows_json("http://peer", history))

    peer_app = web.Application()
    peer_app.router.add_get("/pipeline/state", peer_state)
    async with TestServer(peer_app) as peer_server:
        peer = str(peer_server.make_url("")).rstrip("/")
        dead = "http://127.0.0.1:9"  # the discard port: nothing answers there
        monkeypatch.setattr(pipeline, "member_urls", lambda app: [peer, dead])
        staff = {"Authorization": f"Bearer {tokens.access(staff=True)}"}
        response = await anonymous.get("/pipeline/state", headers=staff)
    body = await response.json()
    assert seen == [staff["Authorization"]]
    stages = {stage["id"]: stage for stage in body["stages"]}
    assert stages["command_agent"]["rate"] == 20.0  # this worker's 10/s and the peer's
    assert stages["read_api"]["state"] == "failed"
    assert dead in stages["read_api"]["detail"]
    assert [w["answered"] for w in body["workers"]] == [True, True, False]


def test_the_members_are_the_assignors_urls_but_this_worker(monkeypatch):
    class Assignor:
        def tables_metadata(self):
            return {"http://b:1": {}, "http://me:8080": {}, "http://a:2": {}}

    class Conf:
        canonical_url = "http://me:8080"

    class App:
        assignor = Assignor()
        conf = Conf()

    assert pipeline.member_urls(App()) == ["http://a:2", "http://b:1"]
