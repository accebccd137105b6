"""`make status` on the real stack: consumer groups' lag and the connector's state."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import requests
from confluent_kafka import Consumer, TopicPartition

from compose.launcher import IsolatedStack
from compose.pipeline_status import GroupLag, PipelineStatus
from compose.settings import REPO_ROOT
from contracts import topics
from tests.integration.conftest import needs
from tests.support.polling import wait_for
from tests.support.users import register_user

WORKER_GROUP = "todo-eda-streams"
WRITES = 12


def worker_group(status: PipelineStatus) -> GroupLag | None:
    return next((g for g in status.kafka.groups if g.group == WORKER_GROUP), None)


@pytest.fixture
def probe_group(stack: IsolatedStack) -> Iterator[tuple[str, Consumer]]:
    """A consumer group of the test's own that commits where it is told (it reads nothing)."""
    group = f"status-probe-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        {
            "bootstrap.servers": stack.env["KAFKA_BROKER_URL"],
            "group.id": group,
            "enable.auto.commit": False,
        }
    )
    yield group, consumer
    consumer.close()


def write_todos(stack: IsolatedStack, count: int) -> None:
    user = register_user(stack.env["CUD_API_URL"])
    headers = {"Authorization": f"Bearer {user.access}"}
    for index in range(count):
        response = requests.post(
            stack.env["CUD_API_URL"] + "/api/todos/",
            json={"title": f"status {index}"},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 202, response.text


def test_after_writes_settle_the_worker_shows_lag_0_and_the_connector_running(
    stack: IsolatedStack, probe_group: tuple[str, Consumer]
) -> None:
    needs(stack, "cud_api", "streams", "connect")
    write_todos(stack, WRITES)
    # A group committed at offset 0 on every partition of `todos` lags by all its records.
    group, consumer = probe_group
    partitions = range(stack.addresses.partitions)
    consumer.commit(
        offsets=[TopicPartition(topics.COMMANDS, p, 0) for p in partitions], asynchronous=False
    )
    records = sum(
        consumer.get_watermark_offsets(TopicPartition(topics.COMMANDS, p))[1] for p in partitions
    )
    assert records >= WRITES

    def settled() -> PipelineStatus | None:
        status = stack.pipeline_status()
        worker = worker_group(status)
        if worker is None or worker.total != 0:
            return None
        if {topics.COMMANDS, topics.CHANGES} - {t.topic for t in worker.topics}:
            return None
        return status

    status = wait_for(settled, timeout=90, interval=1.0, message="the worker's group at lag 0")
    worker = worker_group(status)
    assert worker is not None and worker.state == "STABLE"
    for topic in worker.topics:
        if topic.topic in (topics.COMMANDS, topics.CHANGES):
            assert (topic.partitions, topic.lag) == (stack.addresses.partitions, 0), topic
    (probe,) = [g for g in status.kafka.groups if g.group == group]
    assert [(t.topic, t.partitions, t.lag) for t in probe.topics] == [
        (topics.COMMANDS, stack.addresses.partitions, records)
    ]

    assert status.connect.error is None
    (connector,) = status.connect.connectors
    assert connector.state == "RUNNING" and connector.type == "source"
    assert connector.tasks and {task.state for task in connector.tasks} == {"RUNNING"}


def test_the_status_command_prints_the_services_the_groups_and_the_connector(
    stack: IsolatedStack,
) -> None:
    needs(stack, "streams", "connect")
    result = subprocess.run(
        [sys.executable, "-m", "compose", "status"],
        cwd=REPO_ROOT,
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Traceback" not in out + result.stderr
    assert out.index("service") < out.index(f"Kafka {stack.env['KAFKA_BROKER_URL']}:")
    assert any(line.startswith(WORKER_GROUP) for line in out.splitlines())
    assert any(
        line.split()[:3] == ["todos-postgres", "source", "RUNNING"] for line in out.splitlines()
    ), out


@pytest.mark.disruptive(stops="connect")
def test_with_connect_stopped_the_connect_line_says_unreachable(stack: IsolatedStack) -> None:
    needs(stack, "connect")
    stack.stop("connect")
    status = stack.pipeline_status()
    assert status.connect.error is not None and status.connect.error.startswith("unreachable")
    text = status.format()
    (line,) = [row for row in text.splitlines() if row.startswith("Connect")]
    assert line.startswith("Connect: unreachable (")
    # Kafka's section is still there.
    assert status.kafka.error is None and worker_group(status) is not None
