"""Replay baseline: raw aiokafka consumption of a topic from offset 0 to its end offsets."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.gen.common import emit, now, read_config


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Read every record of `topic` once (no group, no decoding) and time it."""
    t_start = now()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=cfg["bootstrap"], enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        tps = [TopicPartition(cfg["topic"], p) for p in cfg["partitions"]]
        consumer.assign(tps)
        # Offsets from the harness (admin API): this consumer has no topic metadata of its own.
        ends = {tp: int(cfg["ends"][str(tp.partition)]) for tp in tps}
        for tp in tps:
            consumer.seek(tp, int(cfg["starts"][str(tp.partition)]))
        remaining = {tp for tp in tps if ends[tp] > int(cfg["starts"][str(tp.partition)])}
        events = 0
        nbytes = 0
        t_first = now()  # connected and positioned: from here on it is consumption only
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000, max_records=cfg.get("max_records"))
            for tp, records in batch.items():
                events += len(records)
                nbytes += sum(len(r.value or b"") for r in records)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        t_end = now()
    finally:
        await consumer.stop()
    streaming = t_end - t_first
    return {
        "events": events,
        "bytes": nbytes,
        "total_s": t_end - t_start,
        "streaming_s": streaming,
        "events_per_s": events / streaming if streaming > 0 else None,
        "events_per_s_with_startup": events / (t_end - t_start),
    }


def main() -> None:
    """Run and print the result."""
    emit(asyncio.run(run(read_config())))


if __name__ == "__main__":
    main()
