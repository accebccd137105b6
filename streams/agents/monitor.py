"""The worker's monitoring loop: Kafka Connect's state and the pipeline's stalled partitions."""

from __future__ import annotations

from streams.app import app, settings
from streams.monitoring import connect, lag


@app.timer(connect.POLL_SECONDS)
async def watch_pipeline() -> None:
    """Poll Kafka Connect, and record partition positions so a stall shows between /health calls."""
    await connect.poll(settings.kafka_connect_url, connect.connect_status)
    pipeline, _ = lag.split_pipeline(lag.partition_lags(app.consumer))
    lag.stall_watch.observe(pipeline)
