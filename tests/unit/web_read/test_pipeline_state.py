"""The pipeline page's JSON: each stage's state rules, the workers' windows summed, the history."""

from __future__ import annotations

import pytest

from streams.monitoring.history import Check, ConnectorView, PipelineHistory
from tests.unit.streams.history_readings import buckets, counts, offsets, reading
from web_read.pages.pipeline_state import (
    MalformedWindowsError,
    Peer,
    StateInputs,
    own_windows,
    parse_windows,
    state_json,
    windows_json,
)

WORKER = "http://127.0.0.1:8080"
PEER = "http://127.0.0.1:8081"
IDS = [
    "write_api",
    "todos",
    "command_agent",
    "postgresql",
    "debezium",
    "changes",
    "cdc_agent",
    "read_model",
    "read_api",
]


def busy_history(t0: float = 1000.0, **last: object) -> PipelineHistory:
    """Two samples 5 s apart with writes between them; `last` changes the second reading."""
    history = PipelineHistory()
    history.record(reading(t=t0, offsets=offsets((10, 10), (10, 10))))
    second: dict[str, object] = {
        "t": t0 + 5,
        "offsets": offsets((35, 35), (30, 30), lag=2),
        "counts": counts(50, 48, 40, 39, latency=buckets(30, 39, 40, 40)),
    }
    history.record(reading(**{**second, **last}))
    return history


def state(history: PipelineHistory, peers: list[Peer] | None = None, now: float = 1006.0):
    return state_json(StateInputs(worker=WORKER, history=history, peers=peers or [], now=now))


def by_id(body: dict) -> dict[str, dict]:
    return {stage["id"]: stage for stage in body["stages"]}


def test_before_the_first_sample_every_stage_is_unknown_in_flow_order():
    body = state(PipelineHistory())
    assert [s["id"] for s in body["stages"]] == IDS
    assert {s["state"] for s in body["stages"]} == {"unknown"}
    assert body["sampled_at"] is None and body["history"]["t"] == []
    assert body["interval_seconds"] == 5.0 and body["window_seconds"] == 600.0


def test_a_healthy_busy_pipeline_is_ok_everywhere_with_its_rates_and_lag():
    body = state(busy_history())
    stages = by_id(body)
    assert [s["id"] for s in body["stages"]] == IDS
    assert {s["state"] for s in body["stages"]} == {"ok"}
    assert stages["write_api"]["rate"] == stages["todos"]["rate"] == 10.0  # 50 records in 5 s
    assert stages["changes"]["rate"] == stages["debezium"]["rate"] == 8.0
    assert stages["command_agent"]["rate"] == 10.0 and stages["command_agent"]["lag"] == 2
    assert stages["postgresql"]["rate"] == pytest.approx(9.6)
    assert stages["cdc_agent"]["rate"] == 8.0 and stages["cdc_agent"]["lag"] == 2
    assert stages["read_model"]["rate"] == pytest.approx(7.8)
    assert stages["command_agent"]["detail"] == "lag 2 on 2 partitions"
    assert stages["debezium"]["detail"] == "connector RUNNING, 1/1 tasks"
    assert stages["read_api"]["detail"] == "1 worker(s) answering"
    assert body["workers"] == [{"url": WORKER, "self": True, "answered": True}]


def test_the_history_has_latency_quantiles_and_the_total_lag_per_sample():
    history = state(busy_history())["history"]
    assert history["t"] == [1000.0, 1005.0]
    assert history["latency_p50"] == [None, pytest.approx(0.1 * 20 / 30, abs=1e-4)]
    assert history["latency_p99"] == [None, pytest.approx(0.5 + 0.5 * 0.6, abs=1e-4)]
    assert history["lag"] == [0, 4]


def test_rates_of_a_worker_whose_newest_window_is_old_are_not_counted():
    stages = by_id(state(busy_history(), now=1005.0 + 16))
    assert stages["command_agent"]["rate"] is None and stages["postgresql"]["rate"] is None
    assert stages["todos"]["rate"] == 10.0  # the group's, from Kafka


@pytest.mark.parametrize(
    ("connector", "expected", "detail"),
    [
        (ConnectorView(False, False, None), "unknown", "Kafka Connect not polled yet"),
        (ConnectorView(True, False, "UNREACHABLE"), "failed", "Kafka Connect unreachable"),
        (ConnectorView(True, True, "MISSING"), "failed", "connector not registered"),
        (ConnectorView(True, True, None), "failed", "connector not registered"),
        (ConnectorView(True, True, "FAILED", 0, 1), "failed", "connector FAILED, 0/1 tasks"),
        (ConnectorView(True, True, "RUNNING", 0, 1), "failed", "connector RUNNING, 0/1 tasks"),
        (ConnectorView(True, True, "PAUSED", 0, 1), "lagging", "connector PAUSED, 0/1 tasks"),
    ],
)
def test_debezium_is_failed_unless_connect_runs_the_connector_and_its_tasks(
    connector, expected, detail
):
    debezium = by_id(state(busy_history(connector=connector)))["debezium"]
    assert (debezium["state"], debezium["detail"]) == (expected, detail)


def test_with_kafka_down_the_topics_and_agents_are_failed_and_say_why():
    stages = by_id(state(busy_history(offsets=None, kafka_error="no offsets of group g")))
    for stage_id in ("todos", "command_agent", "changes", "cdc_agent"):
        assert stages[stage_id]["state"] == "failed"
        assert stages[stage_id]["detail"] == "Kafka unreachable (no offsets of group g)"
    assert stages["write_api"]["rate"] is None


def test_the_probes_decide_write_api_postgresql_and_the_read_model():
    stages = by_id(
        state(
            busy_history(
                write_api=Check(False, "Unavailable: kafka"),
                postgresql=Check(False, "PostgreSQL unreachable (PoolTimeout)"),
                mongodb=Check(False, "MongoDB unreachable (TimeoutError)"),
            )
        )
    )
    assert (stages["write_api"]["state"], stages["write_api"]["detail"]) == (
        "failed",
        "Unavailable: kafka",
    )
    assert stages["postgresql"]["state"] == "failed"
    assert stages["read_model"]["state"] == "failed"
    assert stages["read_model"]["detail"] == "MongoDB unreachable (TimeoutError)"


def test_a_table_still_recovering_is_lagging():
    read_model = by_id(state(busy_history(recovered=False)))["read_model"]
    assert (read_model["state"], read_model["detail"]) == ("lagging", "table recovering")


def test_growing_lag_makes_an_agent_lagging():
    history = PipelineHistory()
    for n, lag in enumerate((1, 5, 9)):
        history.record(reading(t=1000.0 + 5 * n, offsets=offsets((100, 100), (100, 100), lag=lag)))
    agent = by_id(state(history, now=1011.0))["command_agent"]
    assert agent["state"] == "lagging" and agent["detail"] == "lag 9 on 2 partitions, growing"


def test_a_peers_windows_add_to_the_rates_and_the_latency_of_the_matching_sample():
    mine = busy_history()
    theirs = busy_history(t0=1001.0)
    peer = Peer(PEER, parse_windows(windows_json(PEER, theirs)))
    body = state(mine, [peer])
    stages = by_id(body)
    assert stages["command_agent"]["rate"] == 20.0  # 50 in 5 s on each worker
    assert stages["read_model"]["rate"] == pytest.approx(15.6)
    assert stages["todos"]["rate"] == 10.0  # the group's already: not summed
    # the peer's window ending at 1006 counts in this worker's newest sample (ended 1005)
    assert body["history"]["latency_p50"][1] == pytest.approx(0.1 * 40 / 60, abs=1e-4)
    assert body["workers"][1] == {"url": PEER, "self": False, "answered": True, "error": None}
    assert stages["read_api"]["detail"] == "2 worker(s) answering"


def test_a_peer_that_does_not_answer_fails_the_read_api_stage():
    body = state(busy_history(), [Peer(PEER, None, "ClientConnectorError")])
    read_api = by_id(body)["read_api"]
    assert read_api["state"] == "failed"
    assert read_api["detail"] == f"1 of 2 workers not answering: {PEER}"
    assert body["workers"][1]["answered"] is False


def test_windows_survive_their_json_form():
    history = busy_history()
    parsed = parse_windows(windows_json(WORKER, history))
    assert parsed == own_windows(WORKER, history)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"worker": "x"},
        {"worker": "x", "latency_bounds": [0.1], "capture_bounds": [], "windows": {}},
    ],
)
def test_a_malformed_peer_answer_is_refused(body):
    with pytest.raises(MalformedWindowsError):
        parse_windows(body)


def test_a_peer_answer_with_columns_of_different_lengths_is_refused():
    body = windows_json(WORKER, busy_history())
    body["windows"]["commands"].append(1)
    with pytest.raises(MalformedWindowsError):
        parse_windows(body)
    body = windows_json(WORKER, busy_history())
    body["windows"]["latency"][0].append(1)
    with pytest.raises(MalformedWindowsError):
        parse_windows(body)


def test_windows_of_no_sample_are_empty():
    body = windows_json(WORKER, PipelineHistory())
    assert body["sampled_at"] is None and body["windows"]["t"] == []
    assert parse_windows(body).windows == ()
