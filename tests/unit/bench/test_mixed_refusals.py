"""The mixed generator names what refused each write: the dependencies of a 503's envelope."""

from __future__ import annotations

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.gen import mixed
from bench.gen.mixed import UNKNOWN_DEPENDENCY, Run, refusing_dependencies
from bench.users import TOKEN_VARIABLE


def envelope(**errors: list[str]) -> bytes:
    """The write API's 503 body (cud_api.core.responses.error_body)."""
    return orjson.dumps(
        {"status": "error", "status_code": 503, "errors": errors, "message": "Retry later."}
    )


def test_a_503_names_the_dependencies_of_its_errors_object() -> None:
    assert refusing_dependencies(envelope(kafka=["local queue full"])) == ["kafka"]
    assert refusing_dependencies(envelope(postgres=["x"], kafka=["y"])) == ["kafka", "postgres"]


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>503 Service Unavailable</body></html>",
        b"",
        envelope(),
        b'{"status_code": 503, "message": "down"}',
        b'{"errors": ["kafka"]}',
        b'["kafka"]',
    ],
    ids=["html", "empty", "no-errors", "errors-missing", "errors-a-list", "not-an-object"],
)
def test_a_503_whose_body_names_no_dependency_is_unknown(body: bytes) -> None:
    assert refusing_dependencies(body) == [UNKNOWN_DEPENDENCY]


def test_a_run_counts_refusals_per_dependency_and_keeps_the_last_time() -> None:
    run = Run({}, None)
    run.refused(envelope(kafka=["a"]), at=100.0)
    run.refused(envelope(kafka=["b"], postgres=["c"]), at=101.5)
    run.refused(b"Bad Gateway", at=102.0)
    run.refused(envelope(kafka=["d"]), at=103.0)
    assert run.counts["refused_503"] == 4
    assert run.refused_by_dependency == {"kafka": 3, "postgres": 1, "unknown": 1}
    assert run.last_refusal_by_dependency == {"kafka": 103.0, "postgres": 101.5, "unknown": 102.0}


async def test_the_generators_result_carries_the_refusals_by_dependency(monkeypatch) -> None:
    """Against a local server that refuses every create: once for Kafka, once in plain text."""
    seen: list[int] = []

    async def create(request: web.Request) -> web.Response:
        seen.append(len(seen))
        if len(seen) % 2:
            return web.Response(status=503, body=envelope(kafka=["no ack"]))
        return web.Response(status=503, text="proxy: upstream down")

    app = web.Application()
    app.router.add_post("/api/todos/", create)
    monkeypatch.setenv(TOKEN_VARIABLE, "a-token")
    async with TestServer(app) as server:
        result = await mixed.run(
            {
                "write_url": str(server.make_url("/api/todos")),
                "read_url": str(server.make_url("")),
                "rate": 40,
                "duration_s": 0.1,
                "mix": [1, 0, 0],
                "request_timeout_s": 5,
            }
        )
    assert result["scheduled"] == len(seen) == 4
    assert result["refused_503"] == 4
    assert result["refused_by_dependency"] == {"kafka": 2, "unknown": 2}
    assert set(result["last_refusal_by_dependency"]) == {"kafka", "unknown"}
