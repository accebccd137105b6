"""`GET /metrics`: the worker's Prometheus metrics, to loopback callers and staff tokens."""

from __future__ import annotations

from faust import web
from faust.types import AppT
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.app import app
from streams.monitoring import lag, metrics
from web_read.api_view import ApiView
from web_read.errors import NotFoundError
from web_read.internal import require_internal_access


def refresh_gauges(app: AppT) -> None:
    """Set the gauges read at scrape time: the pipeline's lag and the table's recovery."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    done = recovery.completed.is_set() and not recovery.in_recovery
    metrics.TABLE_RECOVERY_DONE.set(1 if done else 0)
    pipeline: list[lag.PartitionLag] = []
    if not app.rebalancing:
        pipeline, _ = lag.split_pipeline(lag.partition_lags(app.consumer))
    # Cleared first: a partition revoked in a rebalance must not keep its last figure.
    metrics.CONSUMER_LAG.clear()
    for partition in pipeline:
        metrics.CONSUMER_LAG.labels(topic=partition.topic, partition=str(partition.partition)).set(
            partition.lag
        )


def exposition() -> bytes:
    """Return the registry in the Prometheus text format."""
    return generate_latest(metrics.REGISTRY)


class MetricsView(ApiView):
    """`GET /metrics`: the Prometheus text format; a JSON 401 or 403 for a caller not allowed."""

    async def get(self, request: web.Request) -> web.Response:
        """Refresh the scrape-time gauges and return the registry."""
        if not metrics.ENABLED:
            raise NotFoundError("Metrics are off (TODO_EDA_METRICS=0).")
        require_internal_access(request, scrape_token_allowed=True)
        refresh_gauges(app)
        # The header, not content_type=: prometheus_client's type carries a version parameter.
        return self.bytes(exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
