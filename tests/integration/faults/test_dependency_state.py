"""A dependency's outage on the real stack: /health and `status` name it and for how long, and
the worker's log says it once when it goes and once when it is back, without a flood between."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import needs
from tests.support.polling import wait_for

# The worker's log gains at most this many WARNING/ERROR lines over a Kafka outage of ~20 s:
# one per kind of client error, the watch's two lines, nothing per reconnect attempt.
KAFKA_OUTAGE_MAX_LINES = 20
LOUD = re.compile(r"\[(WARNING|ERROR|CRITICAL)\]")


def worker_log(stack) -> Path:
    return Path(stack.state_dir) / "logs" / "streams.log"


def log_since(path: Path, offset: int) -> list[str]:
    """The log's lines written after `offset` bytes."""
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace").splitlines()


def dependency(pipeline, name: str) -> dict[str, Any]:
    """One dependency's entry in the worker's /health (answered with 200 or 503)."""
    response = pipeline.read("/health")
    assert response.status_code in (200, 503), response.text
    return response.json()["dependencies"][name]


def wait_state(pipeline, name: str, state: str, timeout: float = 60) -> dict[str, Any]:
    return wait_for(
        lambda: (found := dependency(pipeline, name))["state"] == state and found,
        timeout=timeout,
        message=f"{name} {state} on /health",
    )


def transitions(lines: list[str], name: str) -> tuple[list[str], list[str]]:
    down = [line for line in lines if re.search(rf"\] {name} down: ", line)]
    back = [line for line in lines if re.search(rf"\] {name} back after \d+\.\d s", line)]
    return down, back


@pytest.mark.parametrize(
    ("service", "name", "needed"),
    [
        pytest.param("ferretdb", "mongodb", True, marks=pytest.mark.disruptive(stops="ferretdb")),
        pytest.param("postgres", "postgres", False, marks=pytest.mark.disruptive(stops="postgres")),
    ],
)
def test_an_outage_is_named_with_its_duration_and_logged_once_each_way(
    pipeline, stack, service, name, needed
):
    needs(stack, service, "streams")
    wait_state(pipeline, name, "up")
    log = worker_log(stack)
    offset = log.stat().st_size
    stack.stop(service)
    try:
        first = wait_state(pipeline, name, "down", timeout=30)
        # The duration grows while it stays down; ~15 s of outage in all.
        later = wait_for(
            lambda: (found := dependency(pipeline, name))["down_for_s"] >= 12 and found,
            timeout=40,
            message=f"{name} down for 12 s",
        )
        assert later["down_for_s"] > first["down_for_s"]
        assert later["since"] == first["since"]
        health = pipeline.read("/health")
        # The read API cannot serve without MongoDB (503); without PostgreSQL it can, with a
        # warning (FerretDB keeps its data in the same PostgreSQL, so MongoDB may go down too).
        if needed:
            assert health.status_code == 503, health.text
        listed = health.json()["problems" if needed else "warnings"]
        assert any(re.fullmatch(rf"{name} down for \d+s", phrase) for phrase in listed), listed
        status = stack.pipeline_status()
        troubled = status.troubled()
        assert troubled[name].state == "down", status.format()
        assert troubled[name].for_s is not None and troubled[name].for_s >= 12
        assert re.search(rf"{name}\s+DOWN\s+\d+ s", status.format()), status.format()
        print(status.format())  # what `make status` shows, for the run's record
    finally:
        stack.start(service)
    wait_state(pipeline, name, "up", timeout=60)
    lines = log_since(log, offset)
    print("\n".join(line for line in lines if LOUD.search(line) or "back after" in line))
    down, back = transitions(lines, name)
    assert len(down) == 1, down
    assert len(back) == 1, back
    outage = float(re.search(r"back after (\d+\.\d) s", back[0]).group(1))
    assert outage >= 12


@pytest.mark.disruptive(stops="kafka")
def test_kafka_outage_logs_a_handful_of_lines_not_one_per_reconnect(pipeline, stack):
    needs(stack, "kafka", "streams")
    wait_state(pipeline, "kafka", "up")
    log = worker_log(stack)
    offset = log.stat().st_size
    stack.stop("kafka")
    try:
        wait_state(pipeline, "kafka", "down", timeout=30)
        wait_for(
            lambda: dependency(pipeline, "kafka")["down_for_s"] >= 20,
            timeout=45,
            message="kafka down for 20 s",
        )
        assert "kafka" in stack.pipeline_status().troubled()
    finally:
        stack.start("kafka")
    wait_state(pipeline, "kafka", "up", timeout=60)
    # The clients reconnect after the probe sees Kafka: wait until the worker consumes again.
    wait_for(
        lambda: pipeline.read("/health").json()["consumer"]["state"] == "consuming",
        timeout=90,
        message="the worker consuming again",
    )
    lines = log_since(log, offset)
    print("\n".join(line for line in lines if LOUD.search(line) or "back after" in line))
    down, back = transitions(lines, "kafka")
    assert len(down) == 1, down
    assert len(back) == 1, back
    loud = [line for line in lines if LOUD.search(line)]
    assert len(loud) <= KAFKA_OUTAGE_MAX_LINES, "\n".join(loud)
