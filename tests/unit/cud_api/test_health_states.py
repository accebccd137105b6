"""The write API's /health/: each dependency's state, since when and for how long."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from cud_api.core import apis as core_apis
from cud_api.core import dependency_link
from cud_api.core.dependency_link import DependencyLink
from tests.support.clock import Clock


@pytest.fixture
def clock(monkeypatch) -> Clock:
    found = Clock()
    for name, label in (("KAFKA", "Kafka"), ("POSTGRES", "PostgreSQL")):
        link = DependencyLink(label, clock=found, wall=lambda: 1_780_000_000 + found.now)
        monkeypatch.setattr(dependency_link, name, link)
    return found


@pytest.fixture
def anonymous() -> Client:
    return Client(HTTP_HOST="localhost", raise_request_exception=False)


def refuse() -> dict[str, object]:
    raise ConnectionRefusedError("connection refused")


def test_kafka_down_reports_since_when_and_a_growing_duration(
    anonymous, clock, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger=dependency_link.logger.name)
    monkeypatch.setattr(core_apis, "postgres_check", lambda: {"migrated": True})
    monkeypatch.setattr(core_apis, "kafka_check", refuse)
    first = anonymous.get("/health/")
    assert first.status_code == 503
    assert first.json()["message"] == "Unavailable: kafka"
    assert first.json()["data"]["kafka"]["status"] == "down"
    assert first.json()["data"]["kafka"]["down_for_s"] == 0.0
    clock.now += 14
    later = anonymous.get("/health/").json()
    assert later["data"]["kafka"]["down_for_s"] == 14.0
    assert later["data"]["kafka"]["since"] == first.json()["data"]["kafka"]["since"]
    assert later["errors"]["kafka"] == ["connection refused (down for 14 s)"]
    assert later["data"]["postgres"]["state"] == "up"
    monkeypatch.setattr(core_apis, "kafka_check", lambda: {"brokers": 1})
    clock.now += 1
    assert anonymous.get("/health/").status_code == 200
    messages = [r.getMessage() for r in caplog.records if r.name == dependency_link.logger.name]
    assert messages == [
        "Kafka unreachable from the write API: connection refused",
        "Kafka reachable again from the write API after 15.0s",
    ]


def test_one_slow_check_is_a_spike_two_in_a_row_are_slow():
    clock = Clock()
    link = DependencyLink("PostgreSQL", clock=clock, wall=clock)

    def state_after(latency_s: float) -> dict[str, object]:
        link.answered(latency_s)
        return link.snapshot()

    assert state_after(0.9)["state"] == "up"
    assert state_after(0.01)["state"] == "up"
    assert state_after(0.9)["state"] == "up"
    clock.now += 5
    slow = state_after(0.9)
    assert slow["state"] == "slow" and slow["for_s"] == 0.0
    clock.now += 5
    assert state_after(0.9)["for_s"] == 5.0
    assert state_after(0.01)["state"] == "up"
    # A request's success (untimed) neither makes nor ends slowness.
    state_after(0.9)
    assert state_after(0.9)["state"] == "slow"
    assert link.answered() is None and link.snapshot()["state"] == "slow"


def test_a_slow_dependency_is_named_in_the_200s_message(anonymous, clock, monkeypatch):
    monkeypatch.setattr(core_apis, "postgres_check", lambda: {"migrated": True})
    monkeypatch.setattr(core_apis, "kafka_check", lambda: {"brokers": 1})
    # The check's latency is taken on the real clock: a negative bound makes every one slow.
    monkeypatch.setattr(dependency_link, "DEPENDENCY_SLOW_SECONDS", -1.0)
    anonymous.get("/health/")
    response = anonymous.get("/health/")
    assert response.status_code == 200
    assert response.json()["message"] == "All dependencies are up; slow: kafka, postgres"
    assert response.json()["data"]["postgres"]["state"] == "slow"
