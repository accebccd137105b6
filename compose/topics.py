"""The project's topics, created explicitly with one partition count.

`python -m compose.topics` creates them on KAFKA_BROKER_URL (the Docker path's one-shot).
"""

from __future__ import annotations

import logging
import sys

from compose.settings import Settings
from contracts import topics

log = logging.getLogger(__name__)

# The users' changes are state (each user's latest `is_active`), read whole by every worker:
# compaction keeps the topic as small as the user table while keeping each user's last word.
CONFIGS: dict[str, dict[str, str]] = {topics.USER_CHANGES: {"cleanup.policy": "compact"}}


def wanted(settings: Settings) -> dict[str, int]:
    """Topic name -> partition count."""
    wanted = dict.fromkeys(topics.PARTITIONED, settings.partitions)
    wanted[topics.USER_CHANGES] = settings.partitions  # keyed by user id, like todos by id
    wanted[topics.DEBEZIUM_HEARTBEAT] = 1
    return wanted


def ensure_topics(settings: Settings, timeout: float = 30.0) -> None:
    """Create the missing topics; warn about an existing one with another partition count."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(
        {"bootstrap.servers": settings.values["KAFKA_BROKER_URL"]},
        logger=logging.getLogger("librdkafka"),
    )
    existing = admin.list_topics(timeout=timeout).topics
    todo = {name: n for name, n in wanted(settings).items() if name not in existing}
    for name, count in wanted(settings).items():
        if name in existing and len(existing[name].partitions) != count:
            log.warning(
                "topic %s has %d partitions, TOPIC_PARTITIONS wants %d: delete it to recreate",
                name,
                len(existing[name].partitions),
                count,
            )
    if not todo:
        return
    futures = admin.create_topics(
        [
            NewTopic(name, num_partitions=n, replication_factor=1, config=CONFIGS.get(name, {}))
            for name, n in todo.items()
        ],
        operation_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except Exception as exc:  # KafkaException wraps the broker's error code
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
        log.info("created topic %s", name)


def main() -> int:
    """Create the topics on the broker the environment names; print them."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings.from_env()
    ensure_topics(settings)
    for name, count in wanted(settings).items():
        print(f"{name}: {count} partition(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
