"""`make status`'s dependency section: what the worker's and the write API's /health say is
down or slow, and for how long; a service that does not answer is one line."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from compose import pipeline_status
from compose.pipeline_status import (
    ConnectStatus,
    HealthView,
    KafkaStatus,
    PipelineStatus,
    duration_text,
    format_health,
    health_view,
    parse_worker_health,
    parse_write_api_health,
)
from tests.unit.compose.test_pipeline_status import FakeResponse, answering

WORKER_503 = {
    "status": "unavailable",
    "dependencies": {
        "kafka": {"state": "up", "since": "2026-12-01T17:00:00+00:00", "for_s": 4000.0},
        "mongodb": {
            "state": "down",
            "since": "2026-12-01T18:06:47+00:00",
            "for_s": 13.2,
            "down_for_s": 13.2,
            "last_error": "ServerSelectionTimeoutError: localhost:1",
        },
        "postgres": {"state": "slow", "for_s": 75.0, "latency_ms": 640.0},
        "kafka_connect": {"state": "unknown"},
    },
}

WRITE_API_503 = {
    "status": "error",
    "data": {
        "postgres": {"status": "down", "state": "down", "for_s": 8.0, "error": "refused"},
        "kafka": {"status": "up", "state": "up", "for_s": 300.0},
    },
}


@pytest.mark.parametrize(
    ("seconds", "text"), [(13.2, "13 s"), (75, "1 min 15 s"), (4000, "1 h 6 min")]
)
def test_durations_read_as_seconds_minutes_or_hours(seconds, text):
    assert duration_text(seconds) == text


def test_the_worker_view_puts_what_is_down_or_slow_first_with_its_duration():
    view = health_view(
        "worker",
        "http://w/health",
        parse_worker_health,
        get=answering(FakeResponse(503, WORKER_503)),
    )
    text = format_health(view)
    lines = text.splitlines()
    assert lines[0] == "worker http://w/health: mongodb down for 13 s; postgres slow for 1 min 15 s"
    assert lines[2].split() == [
        "mongodb",
        "DOWN",
        "13",
        "s",
        "2026-12-01T18:06:47Z",
        "ServerSelectionTimeoutError:",
        "localhost:1",
    ]
    assert lines[3].split()[:2] == ["postgres", "SLOW"] and "probe took 640 ms" in lines[3]
    assert max(len(line) for line in lines) <= 100


def test_the_write_api_view_reads_its_envelope():
    view = health_view(
        "write API",
        "http://c/health/",
        parse_write_api_health,
        get=answering(FakeResponse(503, WRITE_API_503)),
    )
    assert [(d.name, d.state, d.for_s) for d in view.dependencies] == [
        ("kafka", "up", 300.0),
        ("postgres", "down", 8.0),
    ]
    assert (
        format_health(view).splitlines()[0] == "write API http://c/health/: postgres down for 8 s"
    )


@pytest.mark.parametrize(
    ("failure", "line"),
    [
        (requests.ConnectionError(), "worker http://w/health: not answering (connection refused)"),
        (requests.Timeout(), "worker http://w/health: no answer within 3s"),
        (FakeResponse(200, {"status": "ok"}), "worker http://w/health: HTTP 200, unexpected"),
    ],
)
def test_a_worker_that_does_not_answer_is_one_line(failure: Any, line: str):
    view = health_view("worker", "http://w/health", parse_worker_health, get=answering(failure))
    assert format_health(view).startswith(line)


def test_troubled_keeps_the_worst_report_of_each_dependency():
    worker = HealthView("worker", "w", dependencies=parse_worker_health(WORKER_503))
    write_api = HealthView("write API", "c", dependencies=parse_write_api_health(WRITE_API_503))
    status = PipelineStatus(
        KafkaStatus("k:1", error="x"), ConnectStatus("c", error="y"), (worker, write_api)
    )
    troubled = status.troubled()
    assert sorted(troubled) == ["mongodb", "postgres"]
    assert troubled["postgres"].state == "down" and troubled["postgres"].for_s == 8.0
    text = status.format()
    assert text.index("worker w:") < text.index("write API c:") < text.index("Kafka: unreachable")


def test_pipeline_status_asks_each_service_for_health(monkeypatch):
    asked: list[str] = []

    def view(service: str, url: str, parse: Any, *, timeout: float) -> HealthView:
        asked.append(url)
        return HealthView(service, url, error="not answering (connection refused)")

    monkeypatch.setattr(pipeline_status, "health_view", view)
    monkeypatch.setattr(
        pipeline_status, "kafka_status", lambda bootstrap, timeout: KafkaStatus(bootstrap)
    )
    monkeypatch.setattr(
        pipeline_status, "connect_status", lambda url, timeout: ConnectStatus(url, error="down")
    )
    status = pipeline_status.pipeline_status(
        "k:1", "http://c:1", worker_url="http://w:2/", write_api_url="http://a:3"
    )
    assert asked == ["http://w:2/health", "http://a:3/health/"]
    assert [view.service for view in status.health] == ["worker", "write API"]
    assert pipeline_status.pipeline_status("k:1", "http://c:1").health == ()
