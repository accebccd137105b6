"""What every path needs: the stack, the sizes, Kafka admin, the stack's processes, waiting."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import psutil
import requests

from bench.config import Sizes
from bench.kafka_tools import Kafka
from bench.procs import CpuMeter, services_by_port
from bench.users import BenchUser, sign_up
from compose.launcher import IsolatedStack, StackAddresses
from compose.polling import wait_until
from contracts import topics

log = logging.getLogger("bench")


def _answers_200(url: str) -> bool:
    return requests.get(url, timeout=5).status_code == 200


@dataclass
class Bench:
    """One benchmark session against one stack."""

    stack: StackAddresses
    sizes: Sizes
    # The stack's controls when the benchmark started it (None for the one `make up` runs).
    isolated: IsolatedStack | None = None
    kafka: Kafka = field(init=False)
    services: dict[str, psutil.Process] = field(init=False, default_factory=dict)
    notes: list[str] = field(init=False, default_factory=list)
    _user: BenchUser | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.kafka = Kafka(self.stack.kafka)
        self.refresh_services()

    @property
    def user(self) -> BenchUser:
        """The user every request and every bulk-loaded todo of this session belongs to."""
        if self._user is None:
            self._user = sign_up(self.stack.write_url)
            log.info("bench user %s (id %d)", self._user.username, self._user.user_id)
        return self._user

    def renew_kafka(self) -> None:
        """Replace the Kafka admin client with a fresh one and drop the old."""
        # librdkafka can abort the whole process in an admin client that lived through a broker
        # outage with requests in flight (confluentinc/librdkafka#4605, `eonce->refcnt > 0`).
        self.kafka = Kafka(self.stack.kafka)

    def refresh_services(self) -> None:
        """Find (again) each service's process tree from its listening port."""
        self.services = services_by_port(self.stack.ports)

    def note(self, text: str) -> None:
        """Record something a reader of the results must know (also logged)."""
        log.warning("%s", text)
        self.notes.append(text)

    def cpu_meter(self) -> CpuMeter:
        """A meter of each service's cores, and its threads' waits for one, over one run."""
        return CpuMeter(self.services)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until the write and read APIs answer their health checks."""
        for url in (f"{self.stack.write_url}/health/", f"{self.stack.read_url}/health"):
            wait_until(
                partial(_answers_200, url),
                timeout=timeout,
                interval=0.5,
                what=f"{url} answering 200",
                ignore=(requests.RequestException,),
            )

    def quiesce(self) -> dict[str, int]:
        """Wait until the worker has caught up on both topics, so runs do not overlap."""
        drained, lags = self.kafka.wait_drained(
            topics.PIPELINE, timeout=self.sizes.quiesce_timeout_s, group=self.sizes.pipeline_group
        )
        if not drained:
            self.note(f"pipeline still lagging after {self.sizes.quiesce_timeout_s}s: {lags}")
        return lags


class LagSampler:
    """Sample the pipeline's consumer lag once a second in a thread, during one run."""

    def __init__(self, bench: Bench, interval: float = 1.0) -> None:
        self._bench = bench
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.samples: list[dict[str, Any]] = []

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            try:
                lags = self._bench.kafka.lag(topics.PIPELINE, self._bench.sizes.pipeline_group)
                self.samples.append({"t": round(time.monotonic() - t0, 2), **lags})
            except Exception as exc:  # a slow admin call: skip the reading, keep sampling
                log.debug("lag sample failed: %s", exc)
            self._stop.wait(self._interval)

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
