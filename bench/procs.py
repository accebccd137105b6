"""Child processes: run a generator and measure its CPU; find the stack's services, RSS, CPU."""

from __future__ import annotations

import itertools
import json
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psutil


class GeneratorError(RuntimeError):
    """A load generator or baseline process exited with an error or printed no result."""


@dataclass(frozen=True)
class ProcessRun:
    """What a finished child printed, and the CPU it used (from the kernel's rusage for it)."""

    stdout: str
    stderr: str
    wall_s: float
    cpu_user_s: float
    cpu_system_s: float

    @property
    def cpu_cores(self) -> float:
        """Average cores the child kept busy over its lifetime (1.0 = one core saturated)."""
        return (self.cpu_user_s + self.cpu_system_s) / self.wall_s if self.wall_s > 0 else 0.0

    def cpu_report(self) -> dict[str, float]:
        """The generator-headroom figures that go into the JSON."""
        return {
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_user_s + self.cpu_system_s, 3),
            "cpu_cores": round(self.cpu_cores, 3),
        }


def run_process(
    argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None
) -> ProcessRun:
    """Run `argv` to completion, capturing its output and the CPU it used.

    The CPU comes from the difference of RUSAGE_CHILDREN around the wait: the harness runs one
    generator at a time and starts no other child meanwhile, so the difference is this child's.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env) if env is not None else None,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise GeneratorError(f"{argv[0]} timed out after {timeout}s: {err[-2000:]}") from None
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise GeneratorError(f"{' '.join(argv[:4])} exited {proc.returncode}: {err[-3000:]}")
    return ProcessRun(
        out, err, wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    )


def run_generator(
    name: str, config: Mapping[str, Any], *, timeout: float, env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, float]]:
    """Run `python -m bench.gen.<name>` with a JSON config; return its JSON result and its CPU."""
    run = run_process(
        [sys.executable, "-m", f"bench.gen.{name}", json.dumps(dict(config))],
        timeout=timeout,
        env=env,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise GeneratorError(f"bench.gen.{name} printed no result: {run.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result, run.cpu_report()


# --- the stack's processes -------------------------------------------------------------------


def services_by_port(ports: Mapping[str, int]) -> dict[str, psutil.Process]:
    """Map each service name to the supervised process tree root listening on its port.

    The root is the ancestor whose parent is supervisord (or the listener itself when no
    supervisord is found), so forked workers (gunicorn, postgres backends) are counted with it.
    """
    listeners: dict[int, int] = {}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.pid and conn.laddr:
            listeners.setdefault(conn.laddr.port, conn.pid)
    found: dict[str, psutil.Process] = {}
    for service, port in ports.items():
        pid = listeners.get(port)
        if pid is None:
            continue
        try:
            found[service] = _supervised_root(psutil.Process(pid))
        except psutil.Error:
            continue
    return found


def _supervised_root(proc: psutil.Process) -> psutil.Process:
    chain = [proc, *proc.parents()]
    for child, parent in itertools.pairwise(chain):
        if "supervisord" in " ".join(parent.cmdline()):
            return child
    return proc


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root]


def rss_snapshot(
    services: Mapping[str, psutil.Process], *, pss: bool = False
) -> dict[str, dict[str, Any]]:
    """RSS (MiB) of each service summed over its process tree, with the process count.

    With `pss`, also the tree's PSS: shared pages divided among the processes sharing them, so
    memory every PostgreSQL backend maps (shared buffers) counts once, not once per backend.
    """
    report: dict[str, dict[str, Any]] = {}
    for name, root in services.items():
        total, proportional, count = 0, 0, 0
        for proc in _tree(root):
            try:
                if pss:
                    full = proc.memory_full_info()
                    total, proportional = total + full.rss, proportional + full.pss
                else:
                    total += proc.memory_info().rss
                count += 1
            except psutil.Error:
                continue
        report[name] = {"rss_mib": round(total / 2**20, 1), "processes": count}
        if pss:
            report[name]["pss_mib"] = round(proportional / 2**20, 1)
    return report


# PostgreSQL's main shared memory (shared buffers, WAL buffers, lock tables) is one anonymous
# shared mapping, sized at start; the kernel backs its pages only as they are first touched.
# The kernel names such a mapping "/dev/zero (deleted)", psutil "/dev/zero".
SHARED_SEGMENT_PATH = "/dev/zero"


def shared_segment_snapshot(root: psutil.Process) -> dict[str, float]:
    """PSS (MiB) of the tree's anonymous shared segments, and their reserved size."""
    touched, size = 0, 0
    for proc in _tree(root):
        try:
            maps = [m for m in proc.memory_maps(grouped=True) if m.path == SHARED_SEGMENT_PATH]
        except psutil.Error:
            continue
        touched += sum(m.pss for m in maps)
        # Every process maps the same segment: its size counts once.
        size = max(size, sum(m.size for m in maps))
    return {"pss_mib": round(touched / 2**20, 1), "size_mib": round(size / 2**20, 1)}


def cpu_seconds(services: Mapping[str, psutil.Process]) -> dict[str, float]:
    """CPU seconds used so far by each service's process tree (for per-run CPU deltas)."""
    report: dict[str, float] = {}
    for name, root in services.items():
        total = 0.0
        for proc in _tree(root):
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
        report[name] = total
    return report


@dataclass(frozen=True)
class Sched:
    """A thread's CPU time so far: seconds on a CPU, and runnable but waiting for one."""

    run_s: float
    wait_s: float


def thread_sched_seconds(services: Mapping[str, psutil.Process]) -> dict[str, dict[int, Sched]]:
    """Seconds each thread of each service's tree has run and waited runnable for a CPU.

    From Linux's `/proc/<pid>/task/<tid>/schedstat` (run ns, run-queue wait ns, slices); a
    service whose threads cannot be read (another OS, a process gone) maps to no threads.
    """
    report: dict[str, dict[int, Sched]] = {}
    for name, root in services.items():
        threads: dict[int, Sched] = {}
        for proc in _tree(root):
            try:
                tids = [t.id for t in proc.threads()]
            except psutil.Error:
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{proc.pid}/task/{tid}/schedstat") as f:
                        run_ns, wait_ns, *_ = f.read().split()
                except (OSError, ValueError):
                    continue
                threads[tid] = Sched(int(run_ns) / 1e9, int(wait_ns) / 1e9)
        report[name] = threads
    return report


def run_queue_figures(
    before: Mapping[str, Mapping[int, Sched]],
    after: Mapping[str, Mapping[int, Sched]],
    wall_s: float,
) -> dict[str, dict[str, float]]:
    """Per service, per second of `wall_s`: its threads' summed run-queue wait, and the run and
    wait of its busiest thread (a one-thread stage such as the worker's event loop is
    CPU-starved when that thread waits as long as it runs)."""
    wall = max(wall_s, 1e-9)
    report: dict[str, dict[str, float]] = {}
    for name, threads in after.items():
        earlier = before.get(name, {})
        deltas = [
            (s.run_s - earlier[tid].run_s, s.wait_s - earlier[tid].wait_s)
            for tid, s in threads.items()
            if tid in earlier
        ]
        if not deltas:
            continue
        run, wait = max(deltas)
        report[name] = {
            "waiting_cores": round(sum(w for _, w in deltas) / wall, 3),
            "busiest_thread_run": round(run / wall, 3),
            "busiest_thread_wait": round(wait / wall, 3),
        }
    return report


class CpuMeter:
    """Cores used by each service between `start()` and `stop()`, and how long its threads
    waited for one (`run_queue()`)."""

    def __init__(self, services: Mapping[str, psutil.Process]) -> None:
        self._services = services
        self._before: dict[str, float] = {}
        self._threads_before: dict[str, dict[int, Sched]] = {}
        self._threads_after: dict[str, dict[int, Sched]] = {}
        self._t0 = 0.0
        self._wall = 0.0

    def start(self) -> None:
        """Take the first reading."""
        # The clock starts before the readings and stops after them, so all the CPU time
        # counted lies within the wall time it is divided by.
        self._t0 = time.monotonic()
        self._before = cpu_seconds(self._services)
        self._threads_before = thread_sched_seconds(self._services)

    def stop(self) -> dict[str, float]:
        """Cores used by each service since `start()`."""
        after = cpu_seconds(self._services)
        self._threads_after = thread_sched_seconds(self._services)
        self._wall = max(time.monotonic() - self._t0, 1e-9)
        return {
            name: round((after[name] - self._before.get(name, after[name])) / self._wall, 3)
            for name in after
        }

    def run_queue(self) -> dict[str, dict[str, float]]:
        """Each service's run-queue figures from `start()` to `stop()` (`run_queue_figures`)."""
        return run_queue_figures(self._threads_before, self._threads_after, self._wall)


class BackgroundGenerator:
    """A generator process running while the harness does other things (samples, faults).

    Its CPU comes from its own RUSAGE_SELF figure in its result (`self_cpu_s`): the harness
    starts other children meanwhile (supervisorctl), so RUSAGE_CHILDREN would mix them in.
    """

    def __init__(
        self, name: str, config: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self._start = time.monotonic()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", f"bench.gen.{name}", json.dumps(dict(config))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env) if env is not None else None,
        )

    @property
    def pid(self) -> int:
        """The generator's process id."""
        return self._proc.pid

    def running(self) -> bool:
        """Whether the generator has not exited yet."""
        return self._proc.poll() is None

    def finish(self, timeout: float) -> tuple[dict[str, Any], dict[str, float]]:
        """Wait for the generator's result; return it and its CPU (as run_generator does)."""
        try:
            out, err = self._proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            out, err = self._proc.communicate()
            raise GeneratorError(f"bench.gen.{self.name} timed out: {err[-2000:]}") from None
        wall = time.monotonic() - self._start
        if self._proc.returncode != 0:
            raise GeneratorError(
                f"bench.gen.{self.name} exited {self._proc.returncode}: {err[-3000:]}"
            )
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if not lines:
            raise GeneratorError(f"bench.gen.{self.name} printed no result: {err[-3000:]}")
        result: dict[str, Any] = json.loads(lines[-1])
        cpu = float(result.get("self_cpu_s", 0.0))
        return result, {
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "cpu_cores": round(cpu / wall, 3) if wall > 0 else 0.0,
        }


def fd_snapshot(services: Mapping[str, psutil.Process]) -> dict[str, int | None]:
    """Open file descriptors of each service summed over its process tree (None: unreadable)."""
    report: dict[str, int | None] = {}
    for name, root in services.items():
        total: int | None = None
        for proc in _tree(root):
            try:
                total = (total or 0) + proc.num_fds()
            except psutil.Error:
                continue
        report[name] = total
    return report
