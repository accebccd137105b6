"""`make status`'s pipeline section: groups' lag and connectors' states, from fake clients."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import (
    ConsumerGroupListing,
    ListConsumerGroupsResult,
    ListOffsetsResultInfo,
    OffsetSpec,
)

from compose import cli, pipeline_status
from compose.pipeline_status import (
    ConnectStatus,
    KafkaStatus,
    connect_status,
    format_pipeline,
    kafka_status,
)

WORKER = "todo-eda-streams"


def done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def failed(exc: BaseException) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_exception(exc)
    return future


@dataclass
class FakeTopic:
    partitions: dict[int, object]


@dataclass
class FakeMetadata:
    topics: dict[str, FakeTopic]


@dataclass
class FakeAdmin:
    """Answers like AdminClient from dicts: groups, committed offsets, first and next offsets."""

    groups: dict[str, ConsumerGroupState]
    committed: dict[str, dict[tuple[str, int], int]]
    ends: dict[tuple[str, int], int]
    starts: dict[tuple[str, int], int] = field(default_factory=dict)
    broken_groups: set[str] = field(default_factory=set)
    listing_error: KafkaError | None = None
    asked_starts: set[tuple[str, int]] = field(default_factory=set)

    def list_consumer_groups(self, **kwargs: Any) -> Future[Any]:
        assert kwargs["request_timeout"] > 0
        if self.listing_error is not None:
            # The client fills `errors` with KafkaError objects, whatever its annotation says.
            errors: list[Any] = [self.listing_error]
            return done(ListConsumerGroupsResult(valid=[], errors=errors))
        listings = [ConsumerGroupListing(g, False, state) for g, state in self.groups.items()]
        return done(ListConsumerGroupsResult(valid=listings, errors=[]))

    def list_consumer_group_offsets(self, request: list[Any], **kwargs: Any) -> dict[str, Any]:
        (asked,) = request
        group = asked.group_id
        if group in self.broken_groups:
            return {group: failed(KafkaException(KafkaError(KafkaError.COORDINATOR_NOT_AVAILABLE)))}
        partitions = [
            TopicPartition(topic, partition, offset)
            for (topic, partition), offset in self.committed.get(group, {}).items()
        ]
        return {group: done(ConsumerGroupTopicPartitions(group, partitions))}

    def list_topics(self, *args: Any, **kwargs: Any) -> FakeMetadata:
        topics: dict[str, FakeTopic] = {}
        for topic, partition in self.ends:
            topics.setdefault(topic, FakeTopic({})).partitions[partition] = object()
        return FakeMetadata(topics)

    def list_offsets(self, offsets: dict[Any, Any], **kwargs: Any) -> dict[Any, Any]:
        answers = {}
        for tp, spec in offsets.items():
            key = (tp.topic, tp.partition)
            if isinstance(spec, type(OffsetSpec.earliest())):
                self.asked_starts.add(key)
                value = self.starts.get(key, 0)
            else:
                value = self.ends[key]
            answers[tp] = done(ListOffsetsResultInfo(value, -1, -1))
        return answers


def caught_up_worker(**changes: Any) -> FakeAdmin:
    ends = {("todos", p): 10 * (p + 1) for p in range(4)}
    ends |= {("postgres.public.todos", p): 5 for p in range(4)}
    committed = {WORKER: dict(ends)}
    admin = FakeAdmin(
        groups={WORKER: ConsumerGroupState.STABLE, "connect-cluster": ConsumerGroupState.STABLE},
        committed=committed,
        ends=ends,
    )
    for name, value in changes.items():
        setattr(admin, name, value)
    return admin


# Kafka -----------------------------------------------------------------------------------------


def test_a_caught_up_worker_shows_lag_0_on_each_topic_and_every_group_is_listed():
    status = kafka_status("k:9092", admin=caught_up_worker())
    assert status.error is None
    groups = {group.group: group for group in status.groups}
    assert set(groups) == {WORKER, "connect-cluster"}
    worker = groups[WORKER]
    assert worker.state == "STABLE" and worker.total == 0
    assert {(t.topic, t.partitions, t.lag) for t in worker.topics} == {
        ("todos", 4, 0),
        ("postgres.public.todos", 4, 0),
    }
    assert groups["connect-cluster"].topics == ()


def test_lag_is_the_records_past_the_committed_offset_summed_per_topic():
    admin = caught_up_worker()
    admin.committed[WORKER][("todos", 1)] = 13  # end 20: 7 behind
    admin.committed[WORKER][("todos", 3)] = 38  # end 40: 2 behind
    admin.ends[("postgres.public.todos", 0)] = 9  # committed 5: 4 behind
    (worker,) = [g for g in kafka_status("k:9092", admin=admin).groups if g.group == WORKER]
    lags = {t.topic: t.lag for t in worker.topics}
    assert lags == {"todos": 9, "postgres.public.todos": 4}
    assert worker.total == 13


def test_a_partition_never_committed_counts_every_record_kept_on_it():
    admin = caught_up_worker()
    del admin.committed[WORKER][("todos", 2)]  # end 30, first offset 12 (older ones deleted)
    admin.starts[("todos", 2)] = 12
    (worker,) = [g for g in kafka_status("k:9092", admin=admin).groups if g.group == WORKER]
    assert {t.topic: (t.partitions, t.lag) for t in worker.topics}["todos"] == (4, 18)
    assert admin.asked_starts == {("todos", 2)}


def test_a_group_whose_offsets_cannot_be_read_says_so_and_the_others_still_show():
    admin = caught_up_worker(broken_groups={"connect-cluster"})
    groups = {g.group: g for g in kafka_status("k:9092", admin=admin).groups}
    assert groups["connect-cluster"].error == "Broker: Coordinator not available"
    assert groups[WORKER].total == 0 and groups[WORKER].error is None


def test_a_listing_that_fails_is_one_line_naming_the_reason():
    admin = caught_up_worker(listing_error=KafkaError(KafkaError._TIMED_OUT))
    status = kafka_status("k:9092", admin=admin)
    assert status.groups == () and status.error
    text = format_pipeline(status, ConnectStatus("http://c:8083"))
    assert text.splitlines()[0] == f"Kafka: unreachable ({status.error})"
    assert "Traceback" not in text


def test_no_broker_listening_is_reported_without_asking_the_admin_client(free_tcp_port):
    status = kafka_status(f"127.0.0.1:{free_tcp_port}", timeout=0.5)
    assert status.error == f"no broker accepts connections on 127.0.0.1:{free_tcp_port}"


def test_an_unexpected_failure_becomes_the_error_line_not_a_traceback():
    class Exploding(FakeAdmin):
        def list_topics(self, *args: Any, **kwargs: Any) -> FakeMetadata:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))

    admin = Exploding(
        groups={WORKER: ConsumerGroupState.STABLE},
        committed={WORKER: {("todos", 0): 1}},
        ends={("todos", 0): 1},
    )
    status = kafka_status("k:9092", admin=admin)
    assert status.error is not None and "Broker transport failure" in status.error


# Kafka Connect -------------------------------------------------------------------------------

RUNNING = {
    "todos-postgres": {
        "status": {
            "name": "todos-postgres",
            "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:8083"},
            "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "127.0.0.1:8083"}],
            "type": "source",
        }
    }
}


class FakeResponse:
    def __init__(self, status_code: int, body: Any = None, text: str = "") -> None:
        self.status_code = status_code
        self._body = body
        self.text = text

    def json(self) -> Any:
        if self._body is None:
            raise ValueError("Expecting value: line 1 column 1 (char 0)")
        return self._body


def answering(response: FakeResponse | BaseException, asked: list[Any] | None = None):
    def get(url: str, **kwargs: Any) -> FakeResponse:
        if asked is not None:
            asked.append((url, kwargs))
        if isinstance(response, BaseException):
            raise response
        return response

    return get


def test_the_connector_and_its_tasks_states_are_read_from_the_expanded_listing():
    asked: list[Any] = []
    status = connect_status("http://c:8083/", get=answering(FakeResponse(200, RUNNING), asked))
    assert asked == [("http://c:8083/connectors", {"params": {"expand": "status"}, "timeout": 3.0})]
    (connector,) = status.connectors
    assert (connector.name, connector.type, connector.state) == (
        "todos-postgres",
        "source",
        "RUNNING",
    )
    assert [(t.id, t.state) for t in connector.tasks] == [(0, "RUNNING")]


def test_a_failed_task_shows_its_state_and_the_first_line_of_its_trace():
    body = {
        "todos-postgres": {
            "status": {
                "connector": {"state": "RUNNING", "worker_id": "w:8083"},
                "tasks": [
                    {
                        "id": 0,
                        "state": "FAILED",
                        "worker_id": "w:8083",
                        "trace": "org.apache.kafka.connect.errors.ConnectException: boom\n\tat x",
                    }
                ],
                "type": "source",
            }
        }
    }
    text = format_pipeline(
        KafkaStatus("k:9092"),
        connect_status("http://c:8083", get=answering(FakeResponse(200, body))),
    )
    assert "  task 0" in text and "FAILED" in text
    assert "ConnectException: boom" in text and "\tat x" not in text


@pytest.mark.parametrize(
    ("failure", "line"),
    [
        (requests.ConnectionError("refused"), "Connect: unreachable (connection refused)"),
        (requests.ReadTimeout("slow"), "Connect: unreachable (no answer within 3s)"),
        (
            FakeResponse(500, text="Internal error\nmore"),
            "Connect: error (HTTP 500 Internal error)",
        ),
        (FakeResponse(200, None), "Connect: error (unexpected answer: Expecting value: line 1"),
        (FakeResponse(200, ["not", "a", "map"]), "Connect: error (unexpected answer: not a JSON"),
    ],
)
def test_connect_down_or_confused_is_one_line(failure: Any, line: str):
    status = connect_status("http://c:8083", get=answering(failure))
    text = format_pipeline(KafkaStatus("k:9092"), status)
    (connect_line,) = [row for row in text.splitlines() if row.startswith("Connect")]
    assert connect_line.startswith(line)


# The report ------------------------------------------------------------------------------------


def test_the_report_fits_100_columns_and_lists_groups_topics_and_connectors():
    kafka = kafka_status("127.0.0.1:9092", admin=caught_up_worker())
    connect = connect_status("http://127.0.0.1:8083", get=answering(FakeResponse(200, RUNNING)))
    text = format_pipeline(kafka, connect)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert lines[0] == "Kafka 127.0.0.1:9092: 2 consumer group(s)"
    header = lines[1].split()
    assert header[:2] == ["consumer", "group"] and header[-1] == "lag"
    worker_rows = [line for line in lines if line.startswith(WORKER)]
    assert len(worker_rows) == 1 and worker_rows[0].split()[1:3] == ["STABLE", "0"]
    assert any(line.split()[-3:] == ["postgres.public.todos", "4", "0"] for line in lines)
    assert any("connect-cluster" in line and "(no committed offsets)" in line for line in lines)
    assert "Kafka Connect http://127.0.0.1:8083: 1 connector(s)" in lines
    assert any(
        line.split() == ["todos-postgres", "source", "RUNNING", "127.0.0.1:8083"] for line in lines
    )


def test_a_long_group_name_is_cut_to_keep_the_table_narrow():
    name = "smoke-" + "0123456789abcdef" * 4
    admin = FakeAdmin(groups={name: ConsumerGroupState.EMPTY}, committed={}, ends={})
    text = format_pipeline(kafka_status("k:9092", admin=admin), ConnectStatus("u", error="x"))
    assert max(len(line) for line in text.splitlines()) <= 100
    assert name[:20] in text and name not in text


def test_status_prints_the_services_then_the_pipeline_even_when_both_are_down(
    monkeypatch, capsys, tmp_path
):
    class FakeStack:
        def __init__(self, settings: Any) -> None:
            self.settings = settings

        def status(self) -> list[Any]:
            return []

        def pipeline(self) -> pipeline_status.PipelineStatus:
            return pipeline_status.PipelineStatus(
                KafkaStatus("k:1", error="no broker accepts connections on k:1"),
                ConnectStatus("http://c:1", error="unreachable (connection refused)"),
            )

    monkeypatch.setenv("TODO_EDA_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(cli, "Stack", FakeStack)
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert out.index("service") < out.index("Kafka: unreachable (no broker accepts")
    assert "Connect: unreachable (connection refused)" in out
