"""The metrics path: the write and end-to-end figures with the metrics on and off, in one run.

The write API and the worker are stopped under supervisord and run by the benchmark itself,
restarted before every run with TODO_EDA_METRICS flipped (on, off, on, off, ...); the rest of
the stack keeps running. Each run: a warm-up, one write figure (wrk), the backlog drained, one
end-to-end figure (202 -> readable). Afterwards supervisord runs both services again.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from typing import Any

import psutil
import requests

from bench.context import Bench
from bench.paths import e2e_run, write_run, write_warmup
from bench.stats import spread
from compose.launcher import IsolatedStack, service_program, spawn, stop_spawned
from compose.polling import wait_until
from contracts.environment import METRICS_VARIABLE

log = logging.getLogger("bench")

SERVICES = ("cud_api", "streams")  # in the launcher's start order
SETTINGS = ("on", "off")
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
# Within this much of 1, on/off meets the target ("under 5% apart").
TARGET_RATIO_SPREAD = 0.05


class ServiceExitedError(RuntimeError):
    """A service the benchmark started exited before it was ready."""


class SwitchedServices:
    """The write API and the worker, run by the benchmark with the metrics on or off."""

    def __init__(self, bench: Bench, isolated: IsolatedStack) -> None:
        self._bench = bench
        self._isolated = isolated
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, str] = {}

    def run_with(self, on: bool) -> dict[str, int]:
        """Restart both services with the metrics `on` or off; return each `/metrics` status."""
        self._stop_own()
        for name in SERVICES:
            self._isolated.stop(name)  # a no-op once the benchmark runs them
        value = "1" if on else "0"
        for name in SERVICES:
            program = service_program(self._bench.stack, name, {METRICS_VARIABLE: value})
            path = program.log_file.with_name(f"{name}-bench-metrics.log")
            self._logs[name] = str(path)
            self._procs[name] = spawn(program, path)
        self._wait_ready()
        # The process trees the CPU meters read: gunicorn's master with its workers.
        self._bench.services.update(
            {name: psutil.Process(proc.pid) for name, proc in self._procs.items()}
        )
        stack = self._bench.stack
        return {
            name: requests.get(url, timeout=10).status_code
            for name, url in (
                ("cud_api", f"{stack.write_url}/metrics"),
                ("streams", f"{stack.read_url}/metrics"),
            )
        }

    def _wait_ready(self) -> None:
        stack = self._bench.stack
        urls = (f"{stack.write_url}/health/", f"{stack.read_url}/health")

        def ready() -> bool:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise ServiceExitedError(
                        f"{name} exited {proc.returncode}; see {self._logs[name]}"
                    )
            return all(requests.get(url, timeout=5).status_code == 200 for url in urls)

        wait_until(
            ready,
            timeout=READY_TIMEOUT_S,
            interval=0.5,
            what="the write API and the worker ready",
            ignore=(requests.RequestException,),
        )

    def _stop_own(self) -> None:
        # The worker first, as the launcher stops the stack (reverse start order).
        for name in reversed(SERVICES):
            proc = self._procs.pop(name, None)
            if proc is not None:
                stop_spawned(proc, STOP_TIMEOUT_S)

    def close(self) -> None:
        """Stop the benchmark's copies and have supervisord run both services again."""
        self._stop_own()
        for name in SERVICES:
            self._isolated.start(name)
        self._bench.refresh_services()


def _measure(bench: Bench) -> dict[str, Any]:
    """One write figure, then (the backlog drained) one end-to-end figure."""
    sizes = bench.sizes
    clients = sizes.metrics_write_clients
    bench.quiesce()
    if sizes.write_warmup_s > 0:
        write_warmup(bench, clients, sizes.write_warmup_s)
        bench.quiesce()
    load = os.getloadavg()[0]
    write = write_run(bench, clients, sizes.metrics_write_duration_s)
    # e2e_run drains the write run's backlog (lag 0) before it starts.
    e2e = e2e_run(bench, sizes.metrics_e2e_rate, sizes.metrics_e2e_duration_s)
    return {"write": write, "e2e": e2e, "load_average_1m": round(load, 2)}


def _warm_up_stack(bench: Bench) -> None:
    """Drive every stage once, figures discarded: caches, pools and the bench user warm."""
    sizes = bench.sizes
    if sizes.metrics_stack_warmup_s <= 0:
        return
    bench.quiesce()
    write_warmup(bench, sizes.metrics_write_clients, sizes.metrics_stack_warmup_s)
    e2e_run(bench, sizes.metrics_e2e_rate, sizes.metrics_stack_warmup_s)


def _per_request_ms(cores: float | None, rps: float | None) -> float | None:
    return None if cores is None or not rps else 1000.0 * cores / rps


FIGURES: Mapping[str, Any] = {
    "write_rps": lambda r: r["write"]["rps"],
    "write_p99_ms": lambda r: r["write"]["latency"]["p99_ms"],
    "write_cud_api_cpu_ms_per_request": lambda r: _per_request_ms(
        r["write"]["services_cpu_cores"].get("cud_api"), r["write"]["rps"]
    ),
    "write_generator_cores": lambda r: r["write"]["generator_cpu"]["cpu_cores"],
    "e2e_p50_ms": lambda r: r["e2e"]["latency"].get("p50_ms"),
    "e2e_p99_ms": lambda r: r["e2e"]["latency"].get("p99_ms"),
    "e2e_streams_cores": lambda r: r["e2e"]["services_cpu_cores"].get("streams"),
    "e2e_generator_cores": lambda r: r["e2e"]["generator_cpu"]["cpu_cores"],
    "load_average_1m": lambda r: r["load_average_1m"],
}


def summarize(runs: Mapping[str, Sequence[dict[str, Any]]]) -> dict[str, Any]:
    """Median [min-max] of each figure per setting, and each median's ratio on / off."""
    summary: dict[str, Any] = {
        setting: {name: spread(map(figure, runs[setting])) for name, figure in FIGURES.items()}
        for setting in SETTINGS
    }
    summary["ratio_on_off"] = {}
    for name in FIGURES:
        on, off = summary["on"][name]["median"], summary["off"][name]["median"]
        summary["ratio_on_off"][name] = on / off if on is not None and off else None
    summary["e2e_steady_runs"] = {s: sum(r["e2e"]["steady"] for r in runs[s]) for s in SETTINGS}
    return summary


def metrics_path(bench: Bench) -> dict[str, Any]:
    """Write and end-to-end figures with the metrics on vs off, alternated, on one stack."""
    if bench.isolated is None:
        raise RuntimeError(
            "the metrics path restarts the write API and the worker: it needs the benchmark's"
            " own stack (--stack isolated)"
        )
    sizes = bench.sizes
    runs: dict[str, list[dict[str, Any]]] = {setting: [] for setting in SETTINGS}
    _warm_up_stack(bench)
    with closing(SwitchedServices(bench, bench.isolated)) as services:
        for run in range(sizes.metrics_runs):
            for setting in sizes.metrics_order:
                t0 = time.monotonic()
                statuses = services.run_with(setting == "on")
                expected = 200 if setting == "on" else 404
                if set(statuses.values()) != {expected}:
                    raise RuntimeError(f"metrics {setting}, yet /metrics answered {statuses}")
                restart_s = time.monotonic() - t0
                measured = _measure(bench)
                measured.update(run=run, metrics_status=statuses, restart_s=round(restart_s, 1))
                runs[setting].append(measured)
                log.info("metrics %s run=%d: write %.0f req/s, e2e p50 %.0f p99 %.0f ms",
                         setting, run, measured["write"]["rps"],
                         measured["e2e"]["latency"].get("p50_ms") or -1,
                         measured["e2e"]["latency"].get("p99_ms") or -1)  # fmt: skip
    bench.quiesce()
    return {
        "order": [s for _ in range(sizes.metrics_runs) for s in sizes.metrics_order],
        "write_clients": sizes.metrics_write_clients,
        "write_duration_s": sizes.metrics_write_duration_s,
        "e2e_rate": sizes.metrics_e2e_rate,
        "e2e_duration_s": sizes.metrics_e2e_duration_s,
        "summary": summarize(runs),
        "runs": runs,
    }


# --- the table --------------------------------------------------------------------------------


def _fmt(s: Mapping[str, Any], digits: int) -> str:
    if s.get("median") is None:
        return "-"
    if s.get("runs", 0) <= 1:
        return f"{s['median']:,.{digits}f}"
    return f"{s['median']:,.{digits}f} [{s['min']:,.{digits}f}-{s['max']:,.{digits}f}]"


def metrics_table(result: Mapping[str, Any]) -> str:
    """The on/off table as aligned plain text (also valid Markdown)."""
    s = result["summary"]
    clients, rate = result["write_clients"], result["e2e_rate"]
    rows: list[tuple[str, str, int, bool]] = [
        # figure, key, digits, held to the 5% target
        (f"write POST req/s, {clients} clients", "write_rps", 0, True),
        (f"write POST p99 ms, {clients} clients", "write_p99_ms", 1, False),
        ("write API CPU ms per request", "write_cud_api_cpu_ms_per_request", 2, False),
        ("write generator (wrk) CPU cores", "write_generator_cores", 2, False),
        (f"e2e 202->readable p50 ms @ {rate}/s", "e2e_p50_ms", 0, True),
        (f"e2e 202->readable p99 ms @ {rate}/s", "e2e_p99_ms", 0, True),
        (f"worker CPU cores @ {rate}/s", "e2e_streams_cores", 3, False),
        ("e2e generator CPU cores", "e2e_generator_cores", 3, False),
        ("machine load average (1 min) at the write run", "load_average_1m", 2, False),
    ]
    header = ("figure", "metrics on", "metrics off", "on / off", "target", "")
    body: list[tuple[str, ...]] = []
    for label, key, digits, targeted in rows:
        ratio = s["ratio_on_off"][key]
        ratio_text = "-" if ratio is None else f"{ratio:.3f}"
        verdict = "-"
        if targeted and ratio is not None:
            verdict = "met" if abs(ratio - 1) <= TARGET_RATIO_SPREAD else "MISSED"
        target = f"within {TARGET_RATIO_SPREAD:.0%}" if targeted else ""
        body.append(
            (label, _fmt(s["on"][key], digits), _fmt(s["off"][key], digits), ratio_text, target,
             verdict)
        )  # fmt: skip
    steady = s["e2e_steady_runs"]
    runs = len(result["runs"]["on"])
    body.append(
        (f"e2e steady runs @ {rate}/s", f"{steady['on']} of {runs}", f"{steady['off']} of {runs}",
         "", "", "-")
    )  # fmt: skip
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(r: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    order = " ".join(result["order"])
    title = f"metrics on vs off, median [min-max] of {runs} run(s) each, order: {order}"
    return "\n".join([title, line(header), sep, *(line(r) for r in body)])
