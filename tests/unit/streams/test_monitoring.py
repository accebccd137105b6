"""The worker's monitoring: lag without the changelog, stalls, latency samples, Connect, names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faust.types import TP

from contracts.records import ChangeEvent, Position, Todo, decode_change
from debezium.connector import connector_name
from streams.agents.changes import project_changes
from streams.agents.commands import apply_commands
from streams.monitoring import connect, latency, metrics
from streams.monitoring.lag import PartitionLag, StallWatch, partition_lags, split_pipeline
from tests.support.clock import Clock
from tests.support.polling import async_wait_for
from tests.unit.streams.samples import change, command_bytes, row

NOW_AT = datetime(2026, 12, 1, 14, 0, 0, tzinfo=UTC)
NOW = NOW_AT.timestamp()


class FakeConsumer:
    """Assigned partitions with high watermarks and committed offsets, as faust keeps them."""

    def __init__(self, partitions: dict[TP, tuple[int | None, int | None]]) -> None:
        self.partitions = partitions
        self._committed_offset = {tp: done for tp, (_, done) in partitions.items()}

    def assignment(self) -> set[TP]:
        return set(self.partitions)

    def highwater(self, tp: TP) -> int | None:
        return self.partitions[tp][0]


def test_lag_is_the_pipelines_topics_only_and_the_changelog_is_kept_apart():
    consumer = FakeConsumer(
        {
            TP("todos", 0): (10, 6),
            TP("postgres.public.todos", 1): (5, 4),
            TP("todo-eda-streams-todos-changelog", 0): (52, None),
            TP("todos", 1): (None, None),  # not fetched yet: no figure
        }
    )
    pipeline, others = split_pipeline(partition_lags(consumer))
    assert {p.name: p.lag for p in pipeline} == {"postgres.public.todos[1]": 0, "todos[0]": 3}
    assert [(p.name, p.lag) for p in others] == [("todo-eda-streams-todos-changelog[0]", 52)]
    assert {p.name: p.position for p in pipeline} == {"postgres.public.todos[1]": 5, "todos[0]": 7}


def _lag(position: int, lag: int, partition: int = 0) -> PartitionLag:
    return PartitionLag("todos", partition, position, lag)


def test_a_lagging_partition_that_does_not_move_is_stalled_after_the_bound():
    clock = Clock()
    watch = StallWatch(30.0, clock)
    assert watch.observe([_lag(5, 3)]) == {}
    clock.now += 29.0
    assert watch.observe([_lag(5, 3)]) == {}
    clock.now += 1.5
    assert watch.observe([_lag(5, 3)]) == {"todos[0]": 30.5}


def test_a_partition_that_moves_or_is_caught_up_is_not_stalled():
    clock = Clock()
    watch = StallWatch(30.0, clock)
    watch.observe([_lag(5, 3), _lag(9, 0, partition=1)])
    clock.now += 20.0
    watch.observe([_lag(6, 3), _lag(9, 0, partition=1)])  # moved: its clock starts again
    clock.now += 20.0
    assert watch.observe([_lag(6, 3), _lag(9, 0, partition=1)]) == {}
    clock.now += 15.0
    assert watch.observe([_lag(6, 3), _lag(9, 0, partition=1)]) == {"todos[0]": 35.0}


def test_a_partition_assigned_again_starts_afresh():
    clock = Clock()
    watch = StallWatch(30.0, clock)
    watch.observe([_lag(5, 3)])
    clock.now += 20.0
    watch.observe([])  # revoked
    clock.now += 20.0
    assert watch.observe([_lag(5, 3)]) == {}


def _change(op: str, updated: datetime | None, committed: datetime | None) -> ChangeEvent:
    todo = Todo(id=1, title="t", updated_at=updated, version=1, owner_id=7)
    return ChangeEvent(
        op=op,  # type: ignore[arg-type]
        todo_id=1,
        after=None if op == "d" else todo,
        position=Position(lsn=10, streamed=op != "r", version=1),
        source_ts_ms=None if committed is None else int(committed.timestamp() * 1000),
    )


def test_creates_and_updates_give_the_time_from_their_command_to_now():
    updated = NOW_AT - timedelta(milliseconds=250)
    for op in ("c", "u"):
        seconds = latency.write_to_readable(
            _change(op, updated, NOW_AT - timedelta(seconds=0.1)), NOW
        )
        assert seconds == pytest.approx(0.25)


def test_snapshots_deletes_and_rows_without_a_fresh_updated_at_give_no_sample():
    updated = NOW_AT - timedelta(seconds=1)
    assert latency.write_to_readable(_change("r", updated, NOW_AT), NOW) is None
    assert latency.write_to_readable(_change("d", updated, NOW_AT), NOW) is None
    assert latency.write_to_readable(_change("u", None, NOW_AT), NOW) is None
    # A psql edit that left updated_at an hour behind its commit is no command's latency.
    old = _change("u", NOW_AT - timedelta(hours=1), NOW_AT - timedelta(seconds=1))
    assert latency.write_to_readable(old, NOW) is None
    # Without ts_ms, the bound is measured from now.
    assert latency.write_to_readable(_change("u", NOW_AT - timedelta(hours=1), None), NOW) is None


def test_a_clock_ahead_of_the_worker_gives_zero_not_a_negative_sample():
    ahead = NOW_AT + timedelta(seconds=2)
    assert latency.write_to_readable(_change("c", ahead, ahead), NOW) == 0.0


def test_the_capture_delay_runs_from_the_commit_and_skips_snapshots():
    committed = NOW_AT - timedelta(milliseconds=40)
    assert latency.capture_delay(_change("u", NOW_AT, committed), NOW) == pytest.approx(0.04)
    assert latency.capture_delay(_change("r", NOW_AT, committed), NOW) is None
    assert latency.capture_delay(_change("u", NOW_AT, None), NOW) is None


def test_a_change_keeps_debeziums_source_ts_ms():
    body = change("c", after=row()).replace(b'"lsn":1000', b'"lsn":1000,"ts_ms":1764272519987')
    decoded = decode_change(b"42", body)
    assert decoded is not None and decoded.source_ts_ms == 1764272519987
    plain = decode_change(b"42", change("c", after=row()))
    assert plain is not None and plain.source_ts_ms is None


EXPECTED_NAMES = {
    "todo_eda_commands",
    "todo_eda_changes",
    "todo_eda_batch_size",
    "todo_eda_store_write_seconds",
    "todo_eda_write_to_readable_seconds",
    "todo_eda_capture_delay_seconds",
    "todo_eda_consumer_lag",
    "todo_eda_table_recovery_done",
    "todo_eda_connect_reachable",
    "todo_eda_connect_connector_state",
    "todo_eda_connect_task_state",
}


def test_every_metric_is_prefixed_and_named_once():
    names = {family.name for family in metrics.REGISTRY.collect()}
    assert names == EXPECTED_NAMES
    assert all(name.startswith(metrics.PREFIX) for name in names)


def _sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_command_agent_counts_what_postgresql_applied(fakes, dead_letters):
    applied = _sample("todo_eda_commands_total", outcome="applied")
    batches = _sample("todo_eda_batch_size_count", agent="apply_commands")
    writes = _sample("todo_eda_store_write_seconds_count", store="postgresql")
    async with apply_commands.test_context() as agent:
        await agent.put(command_bytes(42, "create"), key=b"42")
        await agent.put(command_bytes(43, "create"), key=b"43")

        async def counted():
            return _sample("todo_eda_commands_total", outcome="applied") - applied == 2

        await async_wait_for(counted, timeout=5, message="two commands counted")
    assert _sample("todo_eda_batch_size_count", agent="apply_commands") > batches
    assert _sample("todo_eda_store_write_seconds_count", store="postgresql") > writes


async def test_the_change_agent_counts_projected_and_stale_changes(fakes, dead_letters):
    from streams.tables import todos_table

    projected = _sample("todo_eda_changes_total", outcome="projected")
    stale = _sample("todo_eda_changes_total", outcome="stale")
    readable = _sample("todo_eda_write_to_readable_seconds_count")
    fresh = datetime.now(UTC).isoformat()
    async with project_changes.test_context() as agent:
        await agent.put(change("c", lsn=1000, after=row(updated_at=fresh)), key=b"42")
        await agent.put(change("u", lsn=2000, after=row(version=2, updated_at=fresh)), key=b"42")

        async def both():
            return _sample("todo_eda_changes_total", outcome="projected") - projected == 2

        await async_wait_for(both, timeout=5, message="two changes projected")
        await agent.put(change("u", lsn=1500, after=row(updated_at=fresh)), key=b"42")  # replay

        async def skipped():
            return _sample("todo_eda_changes_total", outcome="stale") - stale == 1

        await async_wait_for(skipped, timeout=5, message="the replay counted as stale")
    assert _sample("todo_eda_changes_total", outcome="projected") - projected == 2
    assert _sample("todo_eda_write_to_readable_seconds_count") - readable == 2
    todos_table.data.clear()


RUNNING = {
    "todos-postgres": {
        "status": {
            "name": "todos-postgres",
            "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:8083"},
            "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "127.0.0.1:8083"}],
        },
        "type": "source",
    }
}


async def test_connect_states_become_gauges_and_an_outage_shows_as_unreachable():
    status = connect.ConnectStatus()
    answers: list[Any] = [RUNNING, ConnectionRefusedError("down")]

    async def fetch(url: str) -> object:
        assert url == "http://connect:8083/connectors?expand=status"
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    await connect.poll("http://connect:8083/", status, fetch)
    state = "todo_eda_connect_connector_state"
    assert _sample(state, connector="todos-postgres", state="RUNNING") == 1
    assert (
        _sample(
            "todo_eda_connect_task_state", connector="todos-postgres", task="0", state="RUNNING"
        )
        == 1
    )
    assert _sample("todo_eda_connect_reachable") == 1
    assert status.problem() is None
    await connect.poll("http://connect:8083/", status, fetch)
    assert (
        metrics.REGISTRY.get_sample_value(
            state, {"connector": "todos-postgres", "state": "RUNNING"}
        )
        is None
    )
    assert _sample(state, connector="todos-postgres", state="UNREACHABLE") == 1
    assert _sample("todo_eda_connect_reachable") == 0
    assert status.problem() == "kafka_connect: unreachable"
    assert status.report()["connectors"]["todos-postgres"]["state"] == "UNREACHABLE"


def test_a_failed_task_or_no_connector_is_a_problem():
    failed = {
        "todos-postgres": {
            "status": {"connector": {"state": "RUNNING"}, "tasks": [{"id": 0, "state": "FAILED"}]}
        }
    }
    status = connect.ConnectStatus(polled=True, reachable=True)
    status.connectors = connect.parse_statuses(failed)
    assert status.problem() == "kafka_connect: not running: todos-postgres"
    status.connectors = connect.parse_statuses({})
    assert status.problem() == "kafka_connect: no connector registered"
    with pytest.raises(ValueError):
        connect.parse_statuses([])


async def test_the_expected_connector_shows_as_unreachable_even_before_connect_ever_answered():
    status = connect.ConnectStatus(expected=("todos-postgres",))

    async def refused(url: str) -> object:
        raise ConnectionRefusedError("down")

    await connect.poll("http://connect:8083", status, refused)
    assert (
        _sample("todo_eda_connect_connector_state", connector="todos-postgres", state="UNREACHABLE")
        == 1
    )
    assert status.report()["connectors"] == {
        "todos-postgres": {"state": "UNREACHABLE", "tasks": {}}
    }
    assert status.problem() == "kafka_connect: unreachable"


async def test_an_expected_connector_that_connect_lacks_shows_as_missing():
    status = connect.ConnectStatus(expected=("todos-postgres",))

    async def empty(url: str) -> object:
        return {}

    await connect.poll("http://connect:8083", status, empty)
    assert (
        _sample("todo_eda_connect_connector_state", connector="todos-postgres", state="MISSING")
        == 1
    )
    assert status.problem() == "kafka_connect: not running: todos-postgres"


def test_the_worker_expects_the_connector_the_launcher_registers():
    assert connect.connect_status.expected == (connector_name(),) == ("todos-postgres",)


# The switch (TODO_EDA_METRICS=0) --------------------------------------------------------------


@pytest.fixture
def metrics_off(monkeypatch):
    """The worker as TODO_EDA_METRICS=0 starts it (the flag is read once, at import)."""
    monkeypatch.setattr(metrics, "ENABLED", False)


def test_the_switch_is_read_from_the_environment_at_import():
    import os
    import subprocess
    import sys

    probe = "from streams.monitoring import metrics; print(metrics.ENABLED)"
    for value, expected in (("0", "False"), ("1", "True"), ("", "True")):
        env = {**os.environ, "TODO_EDA_METRICS": value}
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == expected, value


async def test_with_the_metrics_off_a_command_batch_moves_no_counter(
    fakes, dead_letters, metrics_off
):
    store, _ = fakes
    names = [
        ("todo_eda_commands_total", {"outcome": "applied"}),
        ("todo_eda_batch_size_count", {"agent": "apply_commands"}),
        ("todo_eda_store_write_seconds_count", {"store": "postgresql"}),
    ]
    before = [_sample(name, **labels) for name, labels in names]
    async with apply_commands.test_context() as agent:
        await agent.put(command_bytes(42, "create"), key=b"42")
        await agent.put(command_bytes(43, "create"), key=b"43")

        async def applied():
            return sum(len(batch) for batch in store.batches) == 2

        # The counters would move in the same step as the batch is applied (no await between).
        await async_wait_for(applied, timeout=5, message="two commands applied")
    assert [_sample(name, **labels) for name, labels in names] == before


async def test_with_the_metrics_off_a_change_batch_moves_no_counter(
    fakes, dead_letters, metrics_off
):
    from streams.tables import get_projection, todos_table

    names = [
        ("todo_eda_changes_total", {"outcome": "projected"}),
        ("todo_eda_batch_size_count", {"agent": "project_changes"}),
        ("todo_eda_store_write_seconds_count", {"store": "mongodb"}),
        ("todo_eda_write_to_readable_seconds_count", {}),
    ]
    before = [_sample(name, **labels) for name, labels in names]
    fresh = datetime.now(UTC).isoformat()
    async with project_changes.test_context() as agent:
        await agent.put(change("c", lsn=1000, after=row(updated_at=fresh)), key=b"42")

        async def in_the_table():
            return get_projection(42) is not None

        # The table write is the batch's last step before its counts.
        await async_wait_for(in_the_table, timeout=5, message="the change projected")
    assert [_sample(name, **labels) for name, labels in names] == before
    todos_table.data.clear()


class _Delivered:
    """A send's delivery future, already acknowledged."""

    def __await__(self) -> Any:
        return iter(())


class _DlqTopic:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def get_topic_name(self) -> str:
        return "todos.dlq"

    async def send(self, **record: Any) -> _Delivered:
        self.sent.append(record)
        return _Delivered()


class _Message:
    topic, partition, offset, key, value = "todos", 1, 7, b"42", b"not json"


class _Event:
    message = _Message()


@pytest.mark.parametrize(("on", "moved"), [(True, 1.0), (False, 0.0)])
async def test_a_dead_letter_is_counted_only_with_the_metrics_on(monkeypatch, on, moved):
    from streams.dlq import send_to_dlq

    monkeypatch.setattr(metrics, "ENABLED", on)
    topic = _DlqTopic()
    before = _sample("todo_eda_commands_total", outcome="dead_lettered")
    await send_to_dlq(topic, _Event(), "undecodable")
    assert len(topic.sent) == 1
    assert _sample("todo_eda_commands_total", outcome="dead_lettered") - before == moved
