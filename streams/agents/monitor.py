"""The worker's monitoring loop: dependencies, Connect's state, stalled partitions, history."""

from __future__ import annotations

import logging
import time

from mode import Service

from streams.app import app, connections, settings
from streams.monitoring import (
    clients,
    connect,
    dependencies,
    history,
    lag,
    probes,
    quiet_logs,
    sampling,
)

log = logging.getLogger(__name__)


async def _ping_mongodb() -> None:
    await connections.open()  # a no-op once the worker has opened them
    await connections.read_model.ping()


_PROBES: dict[str, probes.Probe] = {
    "kafka": probes.kafka_probe(settings.bootstrap_servers),
    "postgres": probes.postgres_probe(settings.postgres_conninfo),
    "mongodb": _ping_mongodb,
}
_SCHEDULE = probes.ProbeSchedule()


@app.service
class _MonitoringClients(Service):
    """Close the monitoring's Kafka clients when the worker stops (they start on first use)."""

    async def on_stop(self) -> None:
        """Stop the sampler's, the topic browser's and the message reader's clients."""
        await clients.close_all()


@app.service
class _QuietLogs(Service):
    """Hold back repeated unreachable-dependency records once the worker's logging is set up."""

    async def on_start(self) -> None:
        """Add the filter to the root logger's handlers (Faust's worker made them by now)."""
        quiet_logs.install(quiet_logs.quiet)


@app.timer(probes.PROBE_SECONDS)
async def probe_dependencies() -> None:
    """Probe Kafka, PostgreSQL and MongoDB; log a change of state, or the summary when due."""
    await probes.run_probes(dependencies.watch, _PROBES, _SCHEDULE)
    dependencies.watch.summary()


@app.timer(connect.POLL_SECONDS)
async def watch_pipeline() -> None:
    """Poll Kafka Connect, and record partition positions so a stall shows between /health calls."""
    started = time.monotonic()
    await connect.poll(settings.kafka_connect_url, connect.connect_status)
    if connect.connect_status.reachable:
        dependencies.watch.answered("kafka_connect", time.monotonic() - started)
    else:
        dependencies.watch.failed("kafka_connect", connect.connect_status.error or "unreachable")
    pipeline, _ = lag.split_pipeline(lag.partition_lags(app.consumer))
    lag.stall_watch.observe(pipeline)


class _FailureOnce:
    """Log a failing task's first failure with its traceback, then only its recovery."""

    def __init__(self, what: str) -> None:
        self.what, self.failures = what, 0

    def failed(self) -> None:
        """Log the current exception if it is the first of a run."""
        self.failures += 1
        if self.failures == 1:
            log.exception("%s failed (repeats are not logged until it works again)", self.what)

    def worked(self) -> None:
        """Log that the task works again after a run of failures."""
        if self.failures:
            log.info("%s works again after %d failures", self.what, self.failures)
            self.failures = 0


_sampling = _FailureOnce("sampling the pipeline")


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
        _sampling.failed()
    else:
        _sampling.worked()
