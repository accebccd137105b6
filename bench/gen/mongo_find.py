"""Read baseline: raw PyMongo (its async API, as the worker uses) `find_one` by `_id`.

The harness passes the `_id`s to find (`keys`): the bucket documents of existing todos.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from pymongo import AsyncMongoClient

from bench.gen.common import emit, now, read_config
from bench.stats import latency_summary


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Closed loop: each client finds a random key's document, then the next."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        cfg["mongo_url"], maxPoolSize=cfg["clients"] + 4
    )
    coll = client[cfg["mongo_db"]][cfg["collection"]]
    keys: list[Any] = cfg["keys"]
    latencies: list[float] = []
    misses = [0]
    measuring = [False]
    stop = [False]

    async def worker(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - load pattern, not security
        while not stop[0]:
            start = now()
            doc = await coll.find_one({"_id": rng.choice(keys)})
            if measuring[0]:
                latencies.append(now() - start)
                if doc is None:
                    misses[0] += 1

    tasks = [asyncio.create_task(worker(i)) for i in range(cfg["clients"])]
    await asyncio.sleep(cfg.get("warmup_s", 1.0))
    measuring[0] = True
    t0 = now()
    await asyncio.sleep(cfg["duration_s"])
    measuring[0] = False
    elapsed = now() - t0
    stop[0] = True
    await asyncio.gather(*tasks)
    await client.close()
    return {
        "requests": len(latencies),
        "duration_s": elapsed,
        "rps": len(latencies) / elapsed,
        "misses": misses[0],
        "latency": latency_summary(latencies),
    }


def main() -> None:
    """Run and print the result."""
    emit(asyncio.run(run(read_config())))


if __name__ == "__main__":
    main()
