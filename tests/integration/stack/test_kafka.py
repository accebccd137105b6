"""Kafka of the isolated stack: the topics exist, a consumer group gets what was produced."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from compose.launcher import IsolatedStack
from contracts.topics import PARTITIONED as TOPICS
from tests.integration.conftest import needs
from tests.support.polling import wait_for


def test_project_topics_exist_with_topic_partitions_partitions(stack: IsolatedStack) -> None:
    needs(stack, "kafka")
    admin = AdminClient({"bootstrap.servers": stack.env["KAFKA_BROKER_URL"]})
    topics = admin.list_topics(timeout=10).topics
    for name in TOPICS:
        assert name in topics, name
        assert len(topics[name].partitions) == int(stack.env["TOPIC_PARTITIONS"]), name


def test_a_produced_message_is_consumed_by_a_consumer_group(stack: IsolatedStack) -> None:
    needs(stack, "kafka")
    broker = stack.env["KAFKA_BROKER_URL"]
    topic = f"smoke.kafka.{uuid.uuid4().hex}"
    admin = AdminClient({"bootstrap.servers": broker})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    group = f"smoke-{uuid.uuid4().hex}"
    consumer = Consumer(
        {
            "bootstrap.servers": broker,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        producer = Producer({"bootstrap.servers": broker, "enable.idempotence": True})
        producer.produce(topic, key=b"42", value=b'{"hello": "kafka"}')
        assert producer.flush(30) == 0
        consumer.subscribe([topic])

        def probe() -> Message | None:
            msg = consumer.poll(0.5)
            return msg if msg is not None and not msg.error() else None

        msg = wait_for(probe, timeout=60, interval=0, message="the produced record")
        assert (msg.key(), msg.value()) == (b"42", b'{"hello": "kafka"}')
        consumer.commit(message=msg, asynchronous=False)
        partition, offset = msg.partition(), msg.offset()
        assert partition is not None and offset is not None
        committed = consumer.committed([TopicPartition(topic, partition)], timeout=10)
        assert committed[0].offset == offset + 1
    finally:
        consumer.close()
        admin.delete_topics([topic])[topic].result(30)
