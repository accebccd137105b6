"""The worker's monitoring loop: Connect's state, stalled partitions, the pipeline's history."""

from __future__ import annotations

import logging

from mode import Service

from streams.app import app, connections, settings
from streams.monitoring import clients, connect, history, lag, sampling

log = logging.getLogger(__name__)


@app.service
class _MonitoringClients(Service):
    """Close the monitoring's Kafka clients when the worker stops (they start on first use)."""

    async def on_stop(self) -> None:
        """Stop the sampler's, the topic browser's and the message reader's clients."""
        await clients.close_all()


@app.timer(connect.POLL_SECONDS)
async def watch_pipeline() -> None:
    """Poll Kafka Connect, and record partition positions so a stall shows between /health calls."""
    await connect.poll(settings.kafka_connect_url, connect.connect_status)
    pipeline, _ = lag.split_pipeline(lag.partition_lags(app.consumer))
    lag.stall_watch.observe(pipeline)


@app.timer(history.INTERVAL_SECONDS)
async def sample_pipeline() -> None:
    """Record one sample of every stage for the pipeline page (one cluster query per interval)."""
    try:
        await sampling.sample_pipeline(
            app,
            history.history,
            clients.sampler_cluster,
            connections,
            group=settings.app_id,
            write_api_url=settings.cud_api_url,
        )
    except Exception:  # the page misses a sample; the pipeline itself must go on
        log.exception("sampling the pipeline failed")
