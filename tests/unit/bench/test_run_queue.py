"""Run-queue figures: how long a service's threads waited for a CPU, from Linux's schedstat."""

from __future__ import annotations

import os
import sys
import threading
from typing import cast

import psutil
import pytest

from bench.procs import CpuMeter, Sched, run_queue_figures, thread_sched_seconds


def test_the_busiest_thread_and_the_summed_wait_are_per_second_of_wall_time() -> None:
    before = {"streams": {1: Sched(10.0, 5.0), 2: Sched(1.0, 1.0)}}
    # Over 20 s the loop thread ran 8 s and waited 12 s; a helper ran 0.2 s and waited 0.4 s.
    after = {"streams": {1: Sched(18.0, 17.0), 2: Sched(1.2, 1.4)}}
    assert run_queue_figures(before, after, 20.0) == {
        "streams": {"waiting_cores": 0.62, "busiest_thread_run": 0.4, "busiest_thread_wait": 0.6}
    }


def test_threads_born_during_the_run_and_services_without_threads_are_left_out() -> None:
    before = {"cud_api": {1: Sched(1.0, 0.0)}, "kafka": {}}
    after = {"cud_api": {1: Sched(2.0, 1.0), 9: Sched(5.0, 5.0)}, "kafka": {}}
    assert run_queue_figures(before, after, 10.0) == {
        "cud_api": {"waiting_cores": 0.1, "busiest_thread_run": 0.1, "busiest_thread_wait": 0.1}
    }


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="schedstat is Linux's")
def test_this_process_threads_are_read_from_proc_and_their_run_time_grows() -> None:
    me = {"bench": psutil.Process(os.getpid())}
    first = thread_sched_seconds(me)["bench"]
    assert threading.get_native_id() in first
    sum(i * i for i in range(300_000))  # some CPU on this thread
    second = thread_sched_seconds(me)["bench"]
    tid = threading.get_native_id()
    assert second[tid].run_s > first[tid].run_s
    assert second[tid].wait_s >= first[tid].wait_s >= 0.0


class _Gone:
    """A process that exited between listing and reading."""

    pid = 0

    def children(self, recursive: bool = False) -> list[psutil.Process]:
        raise psutil.NoSuchProcess(self.pid)

    def threads(self) -> list[object]:
        raise psutil.NoSuchProcess(self.pid)


def test_a_process_gone_maps_to_no_threads() -> None:
    assert thread_sched_seconds({"x": cast(psutil.Process, _Gone())}) == {"x": {}}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="schedstat is Linux's")
def test_the_cpu_meter_gives_the_run_queue_of_its_start_to_stop_interval() -> None:
    meter = CpuMeter({"bench": psutil.Process(os.getpid())})
    meter.start()
    sum(i * i for i in range(300_000))  # some CPU on this thread
    cores = meter.stop()
    figures = meter.run_queue()["bench"]
    assert cores["bench"] > 0.0
    # The scheduler's clock and time.monotonic() are separate clocks: a hair of slack above 1.
    assert 0.0 < figures["busiest_thread_run"] <= 1.01
    assert figures["waiting_cores"] >= figures["busiest_thread_wait"] >= 0.0
