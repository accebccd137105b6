"""The worker's /metrics and /health on the real stack: counters, latency, lag, Connect's state."""

from __future__ import annotations

import pytest

from tests.support.metrics_page import Samples, samples_of, value
from tests.support.polling import wait_for

N = 20
CONNECTOR = "todos-postgres"
PIPELINE_TOPICS = {"todos", "postgres.public.todos"}


def scrape(pipeline) -> Samples:
    """Every sample of the worker's /metrics, by name and labels."""
    response = pipeline.http.get(f"{pipeline.read_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return samples_of(response.text)


def outcomes(samples: Samples) -> dict[str, float]:
    """The commands counter by outcome."""
    return {
        outcome: value(samples, "todo_eda_commands_total", outcome=outcome)
        for outcome in ("applied", "rejected", "dead_lettered", "duplicate")
    }


def connector_state(samples: Samples, state: str) -> float:
    """The connector's state gauge for one state (1 when it is in it)."""
    return value(samples, "todo_eda_connect_connector_state", connector=CONNECTOR, state=state)


def lags(samples: Samples) -> dict[tuple[str, str], float]:
    """The consumer lag gauge by (topic, partition)."""
    return {
        (dict(labels)["topic"], dict(labels)["partition"]): v
        for (name, labels), v in samples.items()
        if name == "todo_eda_consumer_lag"
    }


def test_after_n_creates_the_counters_and_the_latency_histogram_moved_by_n(pipeline):
    before = scrape(pipeline)
    readable_before = value(before, "todo_eda_write_to_readable_seconds_count")
    ids = [pipeline.create(f"metrics {n}") for n in range(N)]
    pipeline.wait_todo(ids[-1], lambda body: True)

    def all_readable() -> Samples | None:
        now = scrape(pipeline)
        moved = value(now, "todo_eda_write_to_readable_seconds_count") - readable_before
        return now if moved >= N else None

    after = wait_for(all_readable, timeout=60, message=f"{N} write-to-readable samples")
    assert value(after, "todo_eda_write_to_readable_seconds_count") - readable_before == N
    moved = {k: after_v - outcomes(before)[k] for k, after_v in outcomes(after).items()}
    assert moved["applied"] == N
    assert moved["applied"] + moved["rejected"] + moved["dead_lettered"] == N
    projected = value(after, "todo_eda_changes_total", outcome="projected") - value(
        before, "todo_eda_changes_total", outcome="projected"
    )
    assert projected >= N
    assert value(after, "todo_eda_table_recovery_done") == 1
    for store in ("postgresql", "mongodb"):
        assert value(after, "todo_eda_store_write_seconds_count", store=store) > 0

    def caught_up() -> dict[tuple[str, str], float] | None:
        found = lags(scrape(pipeline))
        topics = {topic for topic, _ in found}
        return found if topics == PIPELINE_TOPICS and not any(found.values()) else None

    found = wait_for(caught_up, timeout=60, message="lag of both topics back to 0")
    assert all("changelog" not in topic for topic, _ in found)
    health = pipeline.read("/health").json()
    assert all(name.split("[")[0] in PIPELINE_TOPICS for name in health["consumer_lag"])


def test_the_connector_shows_as_running(pipeline):
    def running() -> bool:
        samples = scrape(pipeline)
        return connector_state(samples, "RUNNING") == 1

    wait_for(running, timeout=30, message="the connector RUNNING on /metrics")
    health = pipeline.read("/health").json()
    assert health["kafka_connect"]["connectors"][CONNECTOR]["state"] == "RUNNING"
    assert "warnings" not in health


@pytest.mark.disruptive(stops="connect")
def test_with_connect_stopped_its_state_shows_on_metrics_and_health(pipeline, stack):
    stack.stop("connect")
    try:

        def unreachable() -> bool:
            samples = scrape(pipeline)
            return (
                value(samples, "todo_eda_connect_reachable") == 0
                and connector_state(samples, "UNREACHABLE") == 1
                and connector_state(samples, "RUNNING") == 0
            )

        wait_for(unreachable, timeout=30, message="Connect unreachable on /metrics")
        health = pipeline.read("/health").json()
        assert health["kafka_connect"]["state"] == "unreachable"
        assert health["kafka_connect"]["connectors"][CONNECTOR]["state"] == "UNREACHABLE"
        assert health["warnings"] == ["kafka_connect: unreachable"]
    finally:
        stack.start("connect")
