"""Reading one sample: the write API's health, the pool, MongoDB, the group's offsets, Connect."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

os.environ.setdefault("STREAMS_TABLE_STORE", "memory://")

from contracts import topics
from streams.monitoring import connect, sampling
from streams.monitoring.cluster import ClusterUnavailableError, GroupPartition
from streams.monitoring.dependencies import DependencyWatch
from streams.monitoring.history import Check, PipelineHistory


@asynccontextmanager
async def write_api(status: int, body: dict[str, Any]):
    async def health(request: web.Request) -> web.Response:
        return web.json_response(body, status=status)

    server_app = web.Application()
    server_app.router.add_get("/health/", health)
    async with TestServer(server_app) as server:
        yield str(server.make_url("")).rstrip("/")


async def test_the_write_api_is_up_when_its_health_answers_200():
    async with write_api(200, {"status": "success"}) as url:
        check = await sampling.write_api_check(url)
    assert check.ok is True


async def test_the_write_api_is_down_with_what_its_health_says_is_down():
    async with write_api(503, {"message": "Unavailable: kafka"}) as url:
        check = await sampling.write_api_check(url)
    assert (check.ok, check.detail) == (False, "Unavailable: kafka")


async def test_a_write_api_that_does_not_answer_is_down():
    check = await sampling.write_api_check("http://127.0.0.1:9")
    assert check.ok is False and check.detail.startswith("write API unreachable")


class FakeCluster:
    def __init__(self, found: list[GroupPartition] | None) -> None:
        self.found = found
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    async def group_lag(self, group: str, names: Any) -> list[GroupPartition]:
        self.asked.append((group, tuple(names)))
        if self.found is None:
            raise ClusterUnavailableError("no offsets of group g")
        return self.found


class FakePool:
    def __init__(self, ok: bool) -> None:
        self.ok = ok

    @asynccontextmanager
    async def connection(self, timeout: float):
        if not self.ok:
            raise TimeoutError("pool exhausted")

        async def execute(sql: str) -> None:
            assert sql == "SELECT 1"

        yield SimpleNamespace(execute=execute)


class FakeReadModel:
    def __init__(self, ok: bool) -> None:
        self.ok = ok

    async def ping(self) -> None:
        if not self.ok:
            raise ConnectionError("down")


def fake_app(recovered: bool) -> Any:
    completed = SimpleNamespace(is_set=lambda: recovered)
    recovery = SimpleNamespace(completed=completed, in_recovery=False)
    return SimpleNamespace(tables=SimpleNamespace(recovery=recovery))


def connections(pg: bool = True, mongo: bool = True) -> Any:
    return SimpleNamespace(
        command_store=SimpleNamespace(pool=FakePool(pg)), read_model=FakeReadModel(mongo)
    )


async def test_a_sample_reads_the_groups_offsets_and_every_probe(monkeypatch):
    status = connect.ConnectStatus(expected=("todos-postgres",))
    status.polled, status.reachable = True, True
    status.connectors = {"todos-postgres": connect.ConnectorState("RUNNING", {0: "RUNNING"})}
    monkeypatch.setattr(connect, "connect_status", status)
    cluster = FakeCluster(
        [
            GroupPartition("g", topics.COMMANDS, 0, 7, 10),
            GroupPartition("g", topics.CHANGES, 0, None, 4),
        ]
    )
    history = PipelineHistory()
    async with write_api(200, {}) as url:
        sample = await sampling.sample_pipeline(
            fake_app(True),
            history,
            cluster,
            connections(),
            group="g",
            write_api_url=url,
            watch=DependencyWatch(("mongodb",)),
        )
    assert cluster.asked == [("g", topics.PIPELINE)]
    assert sample.topics[topics.COMMANDS].lag == 3 and sample.topics[topics.CHANGES].lag == 4
    r = sample.reading
    assert (r.write_api.ok, r.postgresql.ok, r.mongodb.ok, r.recovered) == (True, True, True, True)
    assert r.connector == sampling.ConnectorView(True, True, "RUNNING", 1, 1)
    assert history.latest() is sample


async def test_a_sample_with_everything_down_says_so(monkeypatch):
    monkeypatch.setattr(connect, "connect_status", connect.ConnectStatus(expected=("c",)))
    sample = await sampling.sample_pipeline(
        fake_app(False),
        PipelineHistory(),
        FakeCluster(None),
        connections(pg=False, mongo=False),
        group="g",
        write_api_url="http://127.0.0.1:9",
        watch=DependencyWatch(("mongodb",)),
    )
    r = sample.reading
    assert r.offsets is None and r.kafka_error == "no offsets of group g"
    assert sample.topics == {}
    assert (r.write_api.ok, r.postgresql.ok, r.mongodb.ok, r.recovered) == (
        False,
        False,
        False,
        False,
    )
    assert r.postgresql.detail == "PostgreSQL unreachable (TimeoutError)"
    assert r.mongodb.detail == "MongoDB unreachable (ConnectionError: down)"
    assert r.connector == sampling.ConnectorView(False, False, None)


@pytest.mark.parametrize(
    ("connectors", "expected"),
    [
        ({}, sampling.ConnectorView(True, True, None)),
        (
            {"c": connect.ConnectorState("FAILED", {0: "FAILED", 1: "RUNNING"})},
            sampling.ConnectorView(True, True, "FAILED", 1, 2),
        ),
    ],
)
def test_the_connector_view_is_the_expected_connectors_state(connectors, expected):
    status = connect.ConnectStatus(expected=("c",), polled=True, reachable=True)
    status.connectors = connectors
    assert sampling.connector_view(status) == expected


async def test_a_sample_takes_mongodbs_state_from_the_probe_once_it_has_run():
    watch = DependencyWatch(("mongodb",))
    watch.failed("mongodb", "no answer within 1.5 s")
    watch.failed("mongodb", "no answer within 1.5 s")
    read_model = FakeReadModel(True)  # answers, but the sample must not ask it
    asked = []

    async def ping() -> None:
        asked.append(1)

    read_model.ping = ping
    check = await sampling.mongodb_check(SimpleNamespace(read_model=read_model), watch)
    assert check == Check(False, "MongoDB unreachable (no answer within 1.5 s)")
    assert asked == []
    watch.answered("mongodb", 0.01)
    assert await sampling.mongodb_check(SimpleNamespace(read_model=read_model), watch) == Check(
        True, "MongoDB answers"
    )
    assert asked == []
