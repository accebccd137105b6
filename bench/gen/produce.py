"""Write baseline: the write API's client library producing the same command to `todos`.

confluent-kafka, one long-lived producer, `acks=all` and idempotence, murmur2 partitioning;
each of `clients` threads produces one command and waits for its ack before the next, as a
write API request does. Ids come from the `todos` sequence and the commands name the bench
user, so the worker applies them exactly as it applies the write API's, and the downstream
load is the same.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from bench.gen.common import IdBlocks, create_command, emit, now, read_config
from bench.stats import latency_summary
from contracts.records import encode_todo_key


def main() -> None:
    """Run the closed-loop produce baseline and print its latencies and throughput."""
    cfg = read_config()
    producer = Producer(
        {
            "bootstrap.servers": cfg["bootstrap"],
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
            "linger.ms": cfg.get("linger_ms", 1),  # as the write API configures it
        }
    )
    ids = IdBlocks(cfg["pg"])
    owner = int(cfg["owner_id"])
    stop = threading.Event()
    measuring = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(cfg["clients"])]
    errors = [0]

    def poller() -> None:
        while not stop.is_set():
            producer.poll(0.05)

    def client(slot: int) -> None:
        done = threading.Event()
        failed: list[KafkaError | None] = [None]

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            failed[0] = err
            done.set()

        while not stop.is_set():
            todo_id = ids.next()
            done.clear()
            start = now()
            value = create_command(todo_id, "bench", owner)
            producer.produce(
                cfg["topic"], key=encode_todo_key(todo_id), value=value, on_delivery=on_delivery
            )
            done.wait(30)
            if failed[0] is not None or not done.is_set():
                errors[0] += 1
            elif measuring.is_set():
                latencies[slot].append(now() - start)

    threads = [threading.Thread(target=poller, daemon=True)]
    threads += [
        threading.Thread(target=client, args=(i,), daemon=True) for i in range(cfg["clients"])
    ]
    for t in threads:
        t.start()
    time.sleep(cfg.get("warmup_s", 1.0))
    measuring.set()
    t0 = now()
    time.sleep(cfg["duration_s"])
    measuring.clear()
    elapsed = now() - t0
    stop.set()
    for t in threads:
        t.join(35)
    producer.flush(30)
    ids.close()
    merged = [x for per in latencies for x in per]
    result: dict[str, Any] = {
        "requests": len(merged),
        "duration_s": elapsed,
        "rps": len(merged) / elapsed,
        "errors": errors[0],
        "latency": latency_summary(merged),
    }
    emit(result)


if __name__ == "__main__":
    main()
