"""End-to-end generator: open-loop writes at a fixed rate, each tracked from its 202 to readable.

Writes are scheduled at t0 + i/rate whatever the answers do (open loop, no coordinated
omission). A tracked write polls `GET {read_url}/api/todos/{id}/` every `poll_s` until it
answers 200; its latency is from the 202's arrival to the 200's arrival. Above `track_rate`
writes/s only every k-th write is tracked, so the polls do not become the read API's load.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import aiohttp
import orjson

from bench.gen.common import emit, now, read_config
from bench.stats import latency_summary


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Drive the open-loop schedule and collect latencies."""
    rate: float = cfg["rate"]
    total = int(rate * cfg["duration_s"])
    every = max(1, math.ceil(rate / cfg["track_rate"]))
    poll_s: float = cfg["poll_s"]
    deadline_s: float = cfg["visible_timeout_s"]
    body = orjson.dumps({"title": "bench e2e", "description": "open loop", "completed": False})
    post_latency: list[float] = []
    visible: list[float] = []
    visible_at: list[tuple[float, float]] = []  # (seconds since start, latency) for the plot
    lateness: list[float] = []
    counts = {"non_202": 0, "errors": 0, "invisible": 0, "tracked": 0}
    connector = aiohttp.TCPConnector(limit=cfg.get("connections", 512))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one(i: int, t_sched: float) -> None:
            start = now()
            lateness.append(start - t_sched)
            try:
                async with http.post(
                    cfg["write_url"], data=body, headers={"Content-Type": "application/json"}
                ) as resp:
                    payload = await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                counts["errors"] += 1
                return
            t_202 = now()
            if status != 202:
                counts["non_202"] += 1
                return
            post_latency.append(t_202 - start)
            if i % every:
                return
            counts["tracked"] += 1
            todo_id = orjson.loads(payload)["data"]["id"]
            url = f"{cfg['read_url']}/api/todos/{todo_id}/"
            while now() - t_202 < deadline_s:
                try:
                    async with http.get(url) as got:
                        await got.read()
                        if got.status == 200:
                            t_vis = now()
                            visible.append(t_vis - t_202)
                            visible_at.append((t_202 - t0, t_vis - t_202))
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(poll_s)
            counts["invisible"] += 1

        tasks: set[asyncio.Task[None]] = set()
        t0 = now()
        for i in range(total):
            t_sched = t0 + i / rate
            delay = t_sched - now()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(i, t_sched))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        sent_s = now() - t0
        if tasks:
            await asyncio.wait(tasks, timeout=deadline_s + 35)
    lateness.sort()
    return {
        "rate": rate,
        "scheduled": total,
        "send_duration_s": sent_s,
        "achieved_rate": total / sent_s if sent_s > 0 else 0.0,
        "track_every": every,
        "poll_s": poll_s,
        **counts,
        "post_latency": latency_summary(post_latency),
        "latency": latency_summary(visible),
        "schedule_lateness_p99_ms": (lateness[int(0.99 * (len(lateness) - 1))] * 1000)
        if lateness
        else None,
        "timeline": [[round(t, 3), round(v * 1000, 2)] for t, v in visible_at],
    }


def main() -> None:
    """Run and print the result."""
    emit(asyncio.run(run(read_config())))


if __name__ == "__main__":
    main()
