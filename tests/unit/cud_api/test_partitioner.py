"""The producer puts a key in the partition Java's (and aiokafka's) murmur2 partitioner picks.

Runs against librdkafka's in-process mock cluster: no broker needed.
"""

import threading

import pytest
from aiokafka.partitioner import murmur2
from confluent_kafka import Producer

from cud_api.todos.commands import command_key, producer_config

# Kafka's own test vectors for org.apache.kafka.common.utils.Utils.murmur2 (signed 32-bit).
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def java_partition(key: bytes, partitions: int) -> int:
    """Java's DefaultPartitioner / BuiltInPartitioner for a keyed record."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@pytest.mark.parametrize(("key", "signed"), JAVA_MURMUR2.items())
def test_aiokafka_murmur2_matches_javas_test_vectors(key, signed):
    assert murmur2(key) == signed & 0xFFFFFFFF


@pytest.fixture(scope="module")
def mock_producer():
    """The command producer's configuration against librdkafka's mock cluster.

    The mock cluster auto-creates a topic on first produce with 4 partitions (the project's
    TOPIC_PARTITIONS default); it has no controller, so topics cannot be created otherwise.
    """
    config = {
        k: v for k, v in producer_config().items() if k not in {"bootstrap.servers", "error_cb"}
    }
    producer = Producer({**config, "test.mock.num.brokers": 1})
    yield producer
    producer.flush(10)


def delivered_partition(producer: Producer, topic: str, key: bytes) -> int:
    done = threading.Event()
    outcome = {}

    def on_delivery(error, message):
        outcome["error"], outcome["partition"] = error, message.partition()
        done.set()

    producer.produce(topic, key=key, value=b"{}", on_delivery=on_delivery)
    while not done.is_set():
        producer.poll(0.1)
    assert outcome["error"] is None
    return outcome["partition"]


def test_todo_keys_land_in_the_java_partition(mock_producer):
    delivered_partition(mock_producer, "todos", b"0")  # auto-creates the topic
    metadata = mock_producer.list_topics("todos", timeout=10)
    partitions = len(metadata.topics["todos"].partitions)
    assert partitions > 1
    keys = [command_key(i) for i in (*range(1, 40), 1000, 123456789, 2**63 - 1)]
    seen = {key: delivered_partition(mock_producer, "todos", key) for key in keys}
    assert seen == {key: java_partition(key, partitions) for key in keys}
    # The ids spread over every partition: a constant partitioner would not pass this.
    assert set(seen.values()) == set(range(partitions))


def test_java_test_vector_keys_land_in_the_java_partition(mock_producer):
    seen = {key: delivered_partition(mock_producer, "vectors", key) for key in JAVA_MURMUR2}
    partitions = len(mock_producer.list_topics("vectors", timeout=10).topics["vectors"].partitions)
    assert seen == {key: java_partition(key, partitions) for key in JAVA_MURMUR2}
