"""The one Faust app, built from settings; `streams.worker` attaches its agents and views.

Its id is `STREAMS_APP_ID` (default `todo-eda-streams`: the consumer group and the changelog
topic's prefix), and `STREAMS_AGENTS` (comma list of agent names, default all) picks which
agents this worker runs; see `streams.settings`.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import ProducerT, TransportT

from streams import transport
from streams.connections import Connections, ConnectionsService
from streams.settings import load_settings

settings = load_settings()


class StreamsApp(faust.App):
    """The Faust App without framework fixups, on the at-least-once consumer."""

    def _new_transport(self) -> TransportT:
        # Faust picks the consumer's transport by URL scheme; ours keeps `kafka://` and only
        # swaps the consumer (see streams.transport for the offset-commit defect it fixes).
        return transport.Transport(self.conf.broker_consumer, self)

    def _new_producer(self) -> ProducerT:
        # faust holds every incoming message, on every topic, while more than the buffer's
        # `max_messages` (100) table writes wait to be sent: a CDC batch of a few hundred
        # todos stalled both agents' input after each batch (docs/decisions/fetch-wait.md).
        producer = super()._new_producer()
        producer.buffer.max_messages = settings.table_writes_buffered
        return producer

    def _init_fixups(self) -> list[Any]:
        # The stack gives every process DJANGO_SETTINGS_MODULE, which makes Faust's Django
        # fixup run django.setup() in the worker; the worker has no use for Django.
        return []


app = StreamsApp(
    settings.app_id,
    broker=settings.faust_brokers,
    store=settings.table_store,
    datadir=str(settings.faust_data_dir),
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=1,
    web_port=settings.read_api_port,
    autodiscover=False,
    # A new consumer group must see every command and change already in the topics.
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    # At least once with idempotent effects; exactly_once has open bugs on rebalance.
    processing_guarantee="at_least_once",
    # One worker is the usual deployment: a standby copy of the table would be pointless.
    table_standby_replicas=0,
)

connections = Connections(settings)


@app.service
class _Connections(ConnectionsService):
    """Bind the connections service to this app's clients."""

    connections = connections
