"""The topics the app reads and dead-letters to; all pre-created by the launcher."""

from __future__ import annotations

import faust

from contracts import topics
from streams.app import app, settings


def _raw_topic(name: str) -> faust.TopicT:
    # Raw bytes in and out: agents decode with contracts.records so a bad record is caught
    # as data (and dead-lettered) instead of failing inside Faust's deserializer.
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
    )


commands_topic = _raw_topic(topics.COMMANDS)
changes_topic = _raw_topic(topics.CHANGES)
commands_dlq_topic = _raw_topic(topics.COMMANDS_DLQ)
changes_dlq_topic = _raw_topic(topics.CHANGES_DLQ)
