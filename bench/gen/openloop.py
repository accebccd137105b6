"""End-to-end generator: open-loop writes at a fixed rate, each timed from its 202 to readable.

Writes are scheduled at t0 + i/rate whatever the answers do (open loop, no coordinated
omission). Every accepted write is timed by the changelog probe (`bench.gen.probe`): from the
202's arrival to the changelog record that made the todo readable by id, without a request to
the read API. A bounded sample is also polled over HTTP with backoff, and both figures are
reported side by side, with the probe's own CPU and request rate.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson

from bench.gen.common import emit, now, read_config
from bench.gen.probe import ChangelogProbe
from bench.stats import latency_summary, thin
from bench.users import token_from_env
from bench.visibility import all_seen, match


async def _wait_seen(probe: ChangelogProbe, accepted: dict[int, float], timeout_s: float) -> None:
    """Wait until the probe has seen every accepted id readable, or `timeout_s` passes."""
    deadline = now() + timeout_s
    # The probe's thread fills `readable`; polling its state is simpler than a cross-thread event.
    while now() < deadline and not all_seen(list(accepted), probe.readable.at_ms):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _paired(probe: ChangelogProbe) -> dict[str, Any]:
    """The sampled writes as seen by HTTP, and the changelog's figure for the same ids."""
    http: list[float] = []
    changelog: list[float] = []
    diff: list[float] = []
    unseen = 0
    for todo_id, (t_202, t_200) in probe.sampled.items():
        at = probe.readable.at_ms.get(todo_id)
        if t_200 is None:
            unseen += 1
            continue
        http.append(t_200 - t_202)
        if at is not None:
            changelog.append(at / 1000.0 - t_202)
            diff.append(t_200 - at / 1000.0)
    return {
        "sampled": len(probe.sampled),
        "http_never_200": unseen,
        "http_latency": latency_summary(http),
        "changelog_latency_same_ids": latency_summary(changelog),
        # HTTP minus changelog for the same ids: >= 0, up to one backoff step plus a round trip.
        "http_minus_changelog": latency_summary(diff),
    }


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Drive the open-loop schedule; time every write by the changelog, a sample by HTTP."""
    rate: float = cfg["rate"]
    total = int(rate * cfg["duration_s"])
    deadline_s: float = cfg["visible_timeout_s"]
    sample_every = max(1, int(cfg["sample_every"]))
    sample_gap_s = 1.0 / float(cfg["sample_max_rate"])
    body = orjson.dumps({"title": "bench e2e", "description": "open loop", "completed": False})
    token = token_from_env()  # lives longer than the run (the harness renews it before)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    post_latency: list[float] = []
    accepted: dict[int, float] = {}  # id -> wall-clock s of the 202's arrival
    since_start: dict[int, float] = {}  # id -> monotonic s since t0, for the timeline
    lateness: list[float] = []
    counts = {"non_202": 0, "errors": 0}
    last_sample = [-1e9]
    probe = ChangelogProbe(
        {
            "bootstrap": cfg["bootstrap"],
            "topic": cfg["changelog_topic"],
            "partitions": cfg["changelog_partitions"],
            "read_url": cfg["read_url"],
            "first_poll_s": cfg["first_poll_s"],
            "max_poll_s": cfg["max_poll_s"],
            "max_rps": cfg["probe_max_rps"],
            "visible_timeout_s": deadline_s,
            "token": token,
        }
    )
    probe.start()
    connector = aiohttp.TCPConnector(limit=cfg.get("connections", 512))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one(i: int, t_sched: float) -> None:
            start = now()
            lateness.append(start - t_sched)
            try:
                async with http.post(cfg["write_url"], data=body, headers=headers) as resp:
                    payload = await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                counts["errors"] += 1
                return
            t_202_wall, t_202 = time.time(), now()
            if status != 202:
                counts["non_202"] += 1
                return
            post_latency.append(t_202 - start)
            todo_id = int(orjson.loads(payload)["data"]["id"])
            accepted[todo_id] = t_202_wall
            since_start[todo_id] = t_202 - t0
            if i % sample_every == 0 and t_202 - last_sample[0] >= sample_gap_s:
                last_sample[0] = t_202
                probe.sample(todo_id, t_202_wall)

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
            await asyncio.wait(tasks, timeout=35)
    await _wait_seen(probe, accepted, deadline_s)
    # Let the sampled polls still under way finish (each gives up at its own deadline).
    sample_deadline = now() + deadline_s
    while now() < sample_deadline and probe.polling():  # noqa: ASYNC110 - another thread's state
        await asyncio.sleep(0.05)
    probe.stop()
    run_s = now() - t0
    matched = match(accepted, probe.readable.at_ms)
    lateness.sort()
    timeline = [
        [round(since_start[i], 3), round((probe.readable.at_ms[i] / 1000.0 - t) * 1000, 2)]
        for i, t in accepted.items()
        if i in probe.readable.at_ms
    ]
    return {
        "rate": rate,
        "scheduled": total,
        "send_duration_s": sent_s,
        "achieved_rate": total / sent_s if sent_s > 0 else 0.0,
        "method": "changelog",
        **counts,
        "tracked": len(accepted),
        "invisible": len(matched.missing),
        "negative_latencies": matched.negative,
        "post_latency": latency_summary(post_latency),
        "latency": latency_summary(matched.latencies_s),
        "http_sample": _paired(probe),
        "probe": {
            "cpu_s": round(probe.cpu_s, 3),
            "cpu_cores": round(probe.cpu_s / probe.wall_s, 3) if probe.wall_s else None,
            "http_requests": probe.http_requests,
            "http_rps": round(probe.http_requests / run_s, 2) if run_s > 0 else None,
            "changelog_records": probe.readable.records,
            "error": None if probe.error is None else repr(probe.error),
        },
        "schedule_lateness_p99_ms": (lateness[int(0.99 * (len(lateness) - 1))] * 1000)
        if lateness
        else None,
        "timeline": thin(sorted(timeline), 2000),
    }


def main() -> None:
    """Run and print the result."""
    emit(asyncio.run(run(read_config())))


if __name__ == "__main__":
    main()
