"""The Kafka topics of the pipeline, named once."""

from __future__ import annotations

# Commands the write API emits, one per accepted write (key: the todo id).
COMMANDS = "todos"
# Debezium's change events of table public.todos (topic.prefix "postgres").
CHANGES = "postgres.public.todos"
# Debezium's change events of Django's users (only id and is_active are captured): the read
# API refuses tokens of users deactivated or deleted since their token was signed.
USER_CHANGES = "postgres.public.auth_user"
# Where each agent dead-letters what it cannot use, with the reason in a header.
COMMANDS_DLQ = f"{COMMANDS}.dlq"
CHANGES_DLQ = f"{CHANGES}.dlq"
# Debezium's heartbeats (topic.heartbeat.prefix + topic.prefix): one key, so one partition.
DEBEZIUM_HEARTBEAT = "__debezium-heartbeat.postgres"

# The topics the worker consumes, in the order the data flows.
PIPELINE = (COMMANDS, CHANGES)
# Every topic the launcher creates with TOPIC_PARTITIONS partitions.
PARTITIONED = (COMMANDS, CHANGES, COMMANDS_DLQ, CHANGES_DLQ)
