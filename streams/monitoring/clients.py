"""The worker's Kafka clients for the internal pages, built from its settings, started on use."""

from __future__ import annotations

from streams.app import settings
from streams.monitoring.cluster import ClusterView
from streams.monitoring.messages import MessageReader

#: The topic browser's questions about topics and groups.
cluster = ClusterView(settings.bootstrap_servers, settings.app_id)
#: The topic browser's reads of a partition's messages.
reader = MessageReader(settings.bootstrap_servers, settings.app_id)
#: The pipeline sampler's, apart, so that it never waits behind a page's question.
sampler_cluster = ClusterView(settings.bootstrap_servers, f"{settings.app_id}-pipeline")


async def close_all() -> None:
    """Stop every client (a later use starts new ones)."""
    await sampler_cluster.close()
    await cluster.close()
    await reader.close()
