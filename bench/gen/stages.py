"""End-to-end baseline: the raw stages of the pipeline, each measured alone, serially.

- kafka: aiokafka produce (acks=all) to a bench topic -> the record consumed (also ack -> consume).
- pg_commit: a single-row INSERT into `public.todos` and its COMMIT over a warm connection.
- debezium: that commit's return -> its change event consumed from `postgres.public.todos`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.gen.common import emit, now, pg_conninfo, read_config
from bench.stats import latency_summary


async def _consumer_at_end(bootstrap: str, topic: str, parts: list[int]) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in parts]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:  # resolve the positions now, before anything is produced
        await consumer.position(tp)
    return consumer


async def kafka_stage(cfg: dict[str, Any]) -> dict[str, Any]:
    """Produce one record at a time and time it until the consumer gets it."""
    producer = AIOKafkaProducer(bootstrap_servers=cfg["bootstrap"], acks="all")
    await producer.start()
    consumer = await _consumer_at_end(cfg["bootstrap"], cfg["probe_topic"], cfg["partitions"])
    p2c: list[float] = []
    a2c: list[float] = []
    try:
        for i in range(cfg["samples"]):
            key = f"{i}".encode()
            start = now()
            await producer.send_and_wait(cfg["probe_topic"], b"x" * 200, key=key)
            acked = now()
            got = False
            while not got:
                batch = await consumer.getmany(timeout_ms=5000)
                for records in batch.values():
                    got = got or any(r.key == key for r in records)
                if not batch:
                    break
            if got:
                t = now()
                p2c.append(t - start)
                a2c.append(t - acked)
            await asyncio.sleep(cfg["interval_s"])
    finally:
        await consumer.stop()
        await producer.stop()
    return {"produce_to_consume": latency_summary(p2c), "ack_to_consume": latency_summary(a2c)}


def _event_id(key: bytes | None, value: bytes | None) -> int | None:
    if key:
        try:
            decoded = orjson.loads(key)
        except orjson.JSONDecodeError:
            decoded = None
        if isinstance(decoded, int):
            return decoded
        if isinstance(decoded, dict):
            inner = decoded.get("payload", decoded)
            if isinstance(inner, dict) and isinstance(inner.get("id"), int):
                return int(inner["id"])
    if value:
        doc = orjson.loads(value)
        doc = doc.get("payload", doc)
        row = doc.get("after") or doc.get("before") or {}
        if isinstance(row.get("id"), int):
            return int(row["id"])
    return None


async def pg_and_debezium_stage(cfg: dict[str, Any]) -> dict[str, Any]:
    """Commit one row at a time into the captured table and time its change event."""
    consumer = await _consumer_at_end(cfg["bootstrap"], cfg["cdc_topic"], cfg["partitions"])
    commit: list[float] = []
    capture: list[float] = []
    missed = 0
    conn = await psycopg.AsyncConnection.connect(pg_conninfo(cfg["pg"]))
    try:
        for _ in range(cfg["samples"]):
            start = now()
            cur = await conn.execute(
                "INSERT INTO todos (title, description, completed, created_at, updated_at,"
                " version, owner_id) VALUES ('bench stage', 'debezium capture delay', false,"
                " now(), now(), 1, %s) RETURNING id",
                (cfg["owner_id"],),
            )
            row = await cur.fetchone()
            await conn.commit()
            committed = now()
            assert row is not None
            todo_id = int(row[0])
            seen = None
            limit = committed + cfg["capture_timeout_s"]
            while seen is None and now() < limit:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for rec in records:
                        if _event_id(rec.key, rec.value) == todo_id:
                            seen = now()
            if seen is None:
                missed += 1
            else:
                capture.append(seen - committed)
            commit.append(committed - start)
            await asyncio.sleep(cfg["interval_s"])
    finally:
        await conn.close()
        await consumer.stop()
    return {
        "pg_commit": latency_summary(commit),
        "debezium_capture": latency_summary(capture),
        "debezium_missed": missed,
    }


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Measure every stage."""
    result = await kafka_stage(cfg)
    result.update(await pg_and_debezium_stage(cfg))
    return result


def main() -> None:
    """Run and print the result."""
    emit(asyncio.run(run(read_config())))


if __name__ == "__main__":
    main()
