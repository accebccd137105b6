"""Every Prometheus metric of the worker, named once, in the worker's one registry."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from contracts.environment import metrics_on

# Read once: with TODO_EDA_METRICS=0 the agents skip every instrument (one check per batch)
# and `/metrics` answers 404.
ENABLED = metrics_on()

REGISTRY = CollectorRegistry(auto_describe=False)
PREFIX = "todo_eda_"

# Agents' names as the batch-size label (the Faust agent names).
COMMAND_AGENT = "apply_commands"
CHANGE_AGENT = "project_changes"

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

COMMANDS = Counter(
    f"{PREFIX}commands",
    "Commands of `todos` by outcome: applied, rejected, dead_lettered, duplicate.",
    ["outcome"],
    registry=REGISTRY,
)
CHANGES = Counter(
    f"{PREFIX}changes",
    "Change events of `postgres.public.todos` by outcome: projected, stale, dead_lettered.",
    ["outcome"],
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    f"{PREFIX}batch_size",
    "Events per batch an agent handles.",
    ["agent"],
    buckets=BATCH_BUCKETS,
    registry=REGISTRY,
)
STORE_WRITE_SECONDS = Histogram(
    f"{PREFIX}store_write_seconds",
    "Time of one batch write to a store (postgresql, mongodb), retries included.",
    ["store"],
    buckets=WRITE_BUCKETS,
    registry=REGISTRY,
)
WRITE_TO_READABLE_SECONDS = Histogram(
    f"{PREFIX}write_to_readable_seconds",
    "From a create's or update's command timestamp (the row's updated_at) to its projection.",
    buckets=DELAY_BUCKETS,
    registry=REGISTRY,
)
CAPTURE_DELAY_SECONDS = Histogram(
    f"{PREFIX}capture_delay_seconds",
    "From a change's commit in PostgreSQL (Debezium's source.ts_ms) to its arrival here.",
    buckets=DELAY_BUCKETS,
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    f"{PREFIX}consumer_lag",
    "Records not yet committed per assigned partition of `todos` and `postgres.public.todos`.",
    ["topic", "partition"],
    registry=REGISTRY,
)
TABLE_RECOVERY_DONE = Gauge(
    f"{PREFIX}table_recovery_done",
    "1 once the worker's table recovery has completed, else 0.",
    registry=REGISTRY,
)
CONNECT_REACHABLE = Gauge(
    f"{PREFIX}connect_reachable",
    "1 when Kafka Connect's REST API answered the last poll, else 0.",
    registry=REGISTRY,
)
CONNECT_CONNECTOR_STATE = Gauge(
    f"{PREFIX}connect_connector_state",
    "1 for the connector's current state (RUNNING, FAILED, PAUSED, ..., UNREACHABLE).",
    ["connector", "state"],
    registry=REGISTRY,
)
CONNECT_TASK_STATE = Gauge(
    f"{PREFIX}connect_task_state",
    "1 for each connector task's current state (RUNNING, FAILED, ..., UNREACHABLE).",
    ["connector", "task", "state"],
    registry=REGISTRY,
)

# Bound children: a label lookup per event would be paid on the hot path.
COMMANDS_APPLIED = COMMANDS.labels(outcome="applied")
COMMANDS_REJECTED = COMMANDS.labels(outcome="rejected")
COMMANDS_DEAD_LETTERED = COMMANDS.labels(outcome="dead_lettered")
COMMANDS_DUPLICATE = COMMANDS.labels(outcome="duplicate")
CHANGES_PROJECTED = CHANGES.labels(outcome="projected")
CHANGES_STALE = CHANGES.labels(outcome="stale")
CHANGES_DEAD_LETTERED = CHANGES.labels(outcome="dead_lettered")
COMMAND_BATCH_SIZE = BATCH_SIZE.labels(agent=COMMAND_AGENT)
CHANGE_BATCH_SIZE = BATCH_SIZE.labels(agent=CHANGE_AGENT)
POSTGRESQL_WRITE_SECONDS = STORE_WRITE_SECONDS.labels(store="postgresql")
MONGODB_WRITE_SECONDS = STORE_WRITE_SECONDS.labels(store="mongodb")


def timed(histogram: Histogram) -> AbstractContextManager[object]:
    """Time a block into `histogram`, or do nothing with the metrics off."""
    return histogram.time() if ENABLED else nullcontext()
