"""Every metric the write API exports, defined once, and the registry a scrape reads.

Under gunicorn each worker is its own process, so prometheus_client runs in multiprocess
mode (PROMETHEUS_MULTIPROC_DIR set by the launcher): each worker writes its values to files
in that folder and a scrape sums the files of every worker, alive or exited.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess

from cud_api.metrics import MULTIPROC_DIR_VARIABLE

# A write answers in milliseconds; a produce that waits for a down broker takes up to the
# delivery timeout (5 s by default), so the buckets span 1 ms to 10 s.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

HTTP_REQUESTS = Counter(
    "cud_api_http_requests",
    "Requests answered, by route (URL pattern name), method and status.",
    ("route", "method", "status"),
)
HTTP_REQUEST_DURATION = Histogram(
    "cud_api_http_request_duration_seconds",
    "Time from a request entering Django to its response, by route and method.",
    ("route", "method"),
    buckets=LATENCY_BUCKETS,
)
COMMANDS_PRODUCED = Counter(
    "cud_api_commands_produced",
    "Commands the broker acknowledged on topic todos, by operation.",
    ("operation",),
)
PRODUCE_DURATION = Histogram(
    "cud_api_produce_duration_seconds",
    "Time from producing a command to the broker's acknowledgement, by operation.",
    ("operation",),
    buckets=LATENCY_BUCKETS,
)
PRODUCE_FAILURES = Counter(
    "cud_api_produce_failures",
    "Commands not acknowledged (answered 503), by reason.",
    ("reason",),
)
# Label values of WRITE_REFUSALS: fixed sets, so a new error text never makes a new series.
REFUSAL_DEPENDENCIES = ("kafka", "postgres", "other")
REFUSAL_REASONS = (
    "unreachable",
    "timeout",
    "queue_full",
    "produce_failed",
    "connection_lost",
    "unavailable",
)
WRITE_REFUSALS = Counter(
    "cud_api_write_refusals",
    "Requests answered 503, by the dependency that could not do its part and why.",
    ("dependency", "reason"),
)


def write_refused(dependency: str, reason: str) -> None:
    """Count one 503; a dependency or reason outside the fixed sets counts as other/unavailable."""
    WRITE_REFUSALS.labels(
        dependency if dependency in REFUSAL_DEPENDENCIES else "other",
        reason if reason in REFUSAL_REASONS else "unavailable",
    ).inc()


def scrape_registry() -> CollectorRegistry:
    """Return the registry to expose: every worker's files in multiprocess mode, else this one."""
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        # A fresh registry per scrape, as prometheus_client's multiprocess docs require.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY
