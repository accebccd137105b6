"""The worker's /health names each dependency's state and for how long; 503 when one the read
API needs is down, a warning when one is slow or one it serves without is down."""

from __future__ import annotations

import pytest

from streams.monitoring import dependencies
from streams.monitoring.dependencies import DependencyWatch
from tests.support.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def watch(monkeypatch, clock) -> DependencyWatch:
    found = DependencyWatch(dependencies.DEPENDENCIES, clock=clock, wall=lambda: clock.now)
    monkeypatch.setattr("web_read.health.dependencies.watch", found)
    monkeypatch.setattr("web_read.health.consumer_status", lambda app: (True, {}))
    monkeypatch.setattr("web_read.health.recovery_status", lambda app: (True, {}))
    monkeypatch.setattr("web_read.health.pipeline_lag", lambda app: ([], []))
    for name in dependencies.DEPENDENCIES:
        found.answered(name, 0.01)
    return found


def go_down(watch: DependencyWatch, name: str) -> None:
    for _ in range(dependencies.DOWN_AFTER):
        watch.failed(name, "ConnectionRefusedError: refused")


async def test_every_dependency_up_is_200_with_each_state(client, watch, clock):
    clock.now += 30
    response = await client.get("/health")
    assert response.status == 200
    body = await response.json()
    assert set(body["dependencies"]) == set(dependencies.DEPENDENCIES)
    assert body["dependencies"]["kafka"]["state"] == "up"
    assert body["dependencies"]["kafka"]["for_s"] == 30.0
    assert "warnings" not in body and "problems" not in body


async def test_kafka_down_is_503_naming_it_with_a_growing_duration(client, watch, clock):
    go_down(watch, "kafka")
    clock.now += 12
    response = await client.get("/health")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unavailable"
    assert body["problems"] == ["kafka down for 12s"]
    assert body["dependencies"]["kafka"]["down_for_s"] == 12.0
    assert body["dependencies"]["kafka"]["last_error"] == "ConnectionRefusedError: refused"
    clock.now += 5
    later = await (await client.get("/health")).json()
    assert later["dependencies"]["kafka"]["down_for_s"] == 17.0
    assert later["dependencies"]["kafka"]["since"] == body["dependencies"]["kafka"]["since"]


async def test_mongodb_down_is_taken_from_the_probe_without_a_ping_of_its_own(
    client, watch, read_model
):
    go_down(watch, "mongodb")  # the fake read model would answer a ping
    response = await client.get("/health")
    assert response.status == 503
    body = await response.json()
    assert body["mongodb"] == {"state": "unreachable", "error": "ConnectionRefusedError: refused"}
    assert body["problems"] == ["mongodb", "mongodb down for 0s"]


async def test_postgres_down_is_a_warning_the_read_api_still_answers(client, watch, clock):
    go_down(watch, "postgres")
    clock.now += 40
    response = await client.get("/health")
    assert response.status == 200
    body = await response.json()
    assert body["warnings"] == ["postgres down for 40s"]
    assert body["dependencies"]["postgres"]["state"] == "down"


async def test_a_slow_dependency_is_a_warning(client, watch, clock):
    for _ in range(dependencies.SLOW_PROBES):
        watch.answered("mongodb", 0.8)
    clock.now += 9
    response = await client.get("/health")
    assert response.status == 200
    body = await response.json()
    assert body["warnings"] == ["mongodb slow for 9s"]
    assert body["dependencies"]["mongodb"]["slow_for_s"] == 9.0
    assert body["dependencies"]["mongodb"]["latency_ms"] == 800.0
