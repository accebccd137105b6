"""`GET /metrics`: the worker's Prometheus metrics, to loopback callers only.

The read API cannot tell a staff user from a token: the write API signs tokens without such
a claim. Until it adds one, the metrics answer only requests from the loopback address
(`READ_API_METRICS_LOOPBACK=1`, the default), and every request when that is 0 gets a 403.
"""

from __future__ import annotations

import ipaddress

import orjson
from faust import web
from faust.types import AppT
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.app import app, settings
from streams.monitoring import lag, metrics


def is_loopback(peer: str | None) -> bool:
    """Whether the peer address is a loopback one (127.0.0.0/8, ::1)."""
    if not peer:
        return False
    try:
        return ipaddress.ip_address(peer.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def may_scrape(peer: str | None, *, loopback_allowed: bool) -> bool:
    """Whether a caller at `peer` may read the metrics."""
    return loopback_allowed and is_loopback(peer)


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


FORBIDDEN_BODY = orjson.dumps(
    {"detail": "The metrics answer only the loopback address (READ_API_METRICS_LOOPBACK=1)."}
)


class MetricsView(web.View):
    """`GET /metrics`: the Prometheus text format; 403 JSON for a caller not allowed."""

    async def get(self, request: web.Request) -> web.Response:
        """Refresh the scrape-time gauges and return the registry, or 403."""
        # aiohttp's `remote` is the TCP peer: a forwarded-for header cannot claim loopback.
        peer: str | None = getattr(request, "remote", None)
        if not may_scrape(peer, loopback_allowed=settings.metrics_loopback):
            return self.bytes(FORBIDDEN_BODY, content_type="application/json", status=403)
        refresh_gauges(app)
        # The header, not content_type=: prometheus_client's type carries a version parameter.
        return self.bytes(exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
