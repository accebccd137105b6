"""Dead letters: a record that can't be processed goes to `<topic>.dlq`, untouched."""

from __future__ import annotations

import logging

import faust
from faust.types import EventT

from contracts import topics
from streams.monitoring import metrics

log = logging.getLogger(__name__)


def dead_letter_headers(event: EventT, reason: str) -> dict[str, bytes]:
    """Return the headers that say where the record came from and why it was refused."""
    message = event.message
    return {
        "dlq.reason": reason.encode("utf-8", "replace"),
        "dlq.topic": message.topic.encode(),
        "dlq.partition": str(message.partition).encode(),
        "dlq.offset": str(message.offset).encode(),
    }


async def send_to_dlq(topic: faust.TopicT, event: EventT, reason: str) -> None:
    """Publish the original key and value bytes with the reason, and wait for the broker."""
    message = event.message
    log.warning(
        "dead-lettering %s[%s]@%s to %s: %s",
        message.topic,
        message.partition,
        message.offset,
        topic.get_topic_name(),
        reason,
    )
    # Waiting for the acknowledgement keeps it at least once: the source offset is only
    # committed after this returns.
    delivery = await topic.send(
        key=message.key,
        value=message.value,
        headers=dead_letter_headers(event, reason),
    )
    await delivery
    counter = _DEAD_LETTERED.get(message.topic)
    if counter is not None and metrics.ENABLED:
        counter.inc()


# Each source topic's dead-letter counter: the agents dead-letter from several places.
_DEAD_LETTERED = {
    topics.COMMANDS: metrics.COMMANDS_DEAD_LETTERED,
    topics.CHANGES: metrics.CHANGES_DEAD_LETTERED,
}
