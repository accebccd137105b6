"""The end-to-end probe: the table changelog read by one consumer, and a small HTTP check.

It runs in a thread of its own, on its own event loop, so its CPU (the thread's CPU time) is
told apart from the load it measures. Every write is timed from the changelog (no request to
the system under test); a bounded sample is also polled at the read API with backoff, to show
that the changelog's figure agrees with what a client sees.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.visibility import FirstReadable


class ChangelogProbe:
    """Consume the changelog from its end and poll sampled ids, in a background thread."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self._cfg = cfg
        self.readable = FirstReadable()
        # id -> (202's wall-clock s, wall-clock s the read API first answered 200)
        self.sampled: dict[int, tuple[float, float | None]] = {}
        self.http_requests = 0
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)

    def start(self, timeout: float = 60.0) -> None:
        """Start the thread; return once the consumer sits at the changelog's end."""
        self._thread.start()
        if not self._ready.wait(timeout) or self.error is not None:
            raise RuntimeError(f"the changelog probe did not start: {self.error!r}")

    def sample(self, todo_id: int, accepted_at: float) -> None:
        """Poll `todo_id` at the read API (from the probe's thread) until it answers 200."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._start_poll, todo_id, accepted_at)

    def polling(self) -> bool:
        """Whether a sampled id has not answered 200 yet (its poll may still be under way)."""
        return any(seen is None for _, seen in list(self.sampled.values()))

    def stop(self) -> None:
        """Stop consuming and polling; wait for the thread."""
        self._stopping.set()
        self._thread.join(30)

    # --- the probe's thread -------------------------------------------------------------------

    def _run(self) -> None:
        cpu0, wall0 = time.thread_time(), time.monotonic()
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start() or in the result
            self.error = exc
            self._ready.set()
        finally:
            self.cpu_s = time.thread_time() - cpu0
            self.wall_s = time.monotonic() - wall0

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._polls: set[asyncio.Task[None]] = set()
        self._next_slot = 0.0
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._cfg["bootstrap"],
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=100,
        )
        await consumer.start()
        connector = aiohttp.TCPConnector(limit=32)
        timeout = aiohttp.ClientTimeout(total=10)
        self._http = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={"Authorization": f"Bearer {self._cfg['token']}"},
        )
        try:
            tps = [TopicPartition(self._cfg["topic"], p) for p in self._cfg["partitions"]]
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:  # resolve the positions now, before the first write
                await consumer.position(tp)
            self._ready.set()
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                for records in batch.values():
                    for rec in records:
                        self.readable.add(rec.key, rec.value, rec.timestamp)
            for task in list(self._polls):
                task.cancel()
            await asyncio.gather(*self._polls, return_exceptions=True)
        finally:
            await self._http.close()
            await consumer.stop()

    async def _http_slot(self) -> None:
        """Wait for the next request slot: the probe's polls together stay under `max_rps`."""
        gap = 1.0 / float(self._cfg["max_rps"])
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + gap
        if slot > now:
            await asyncio.sleep(slot - now)

    def _start_poll(self, todo_id: int, accepted_at: float) -> None:
        self.sampled[todo_id] = (accepted_at, None)
        task = asyncio.get_running_loop().create_task(self._poll(todo_id, accepted_at))
        self._polls.add(task)
        task.add_done_callback(self._polls.discard)

    async def _poll(self, todo_id: int, accepted_at: float) -> None:
        url = f"{self._cfg['read_url']}/api/todos/{todo_id}/"
        delay = float(self._cfg["first_poll_s"])
        deadline = accepted_at + float(self._cfg["visible_timeout_s"])
        while time.time() < deadline:
            await self._http_slot()
            self.http_requests += 1
            try:
                async with self._http.get(url) as got:
                    await got.read()
                    if got.status == 200:
                        self.sampled[todo_id] = (accepted_at, time.time())
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            # Backoff, and the rate cap above: a slow pipeline never draws more polls.
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, float(self._cfg["max_poll_s"]))
