"""The write, end-to-end and memory paths, each with its baseline."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

from bench.context import Bench, LagSampler
from bench.procs import rss_snapshot, run_generator
from bench.stats import lag_growing, run_summary, spread
from bench.visibility import changelog_topic
from bench.wrk import authorized, post_json_keyed_script, post_json_script, run_wrk
from contracts import topics

log = logging.getLogger("bench")

PROBE_TOPIC = "bench.probe"
WRITE_BODY = {"title": "bench write", "description": "closed loop", "completed": False}


# --- write ------------------------------------------------------------------------------------


def write_path(bench: Bench) -> dict[str, Any]:
    """POST /api/todos/ with wrk at each concurrency vs acks=all produce waits, interleaved.

    Each run also POSTs with a new Idempotency-Key per request, measured against the plain
    POST of the same run. wrk signs in as the bench user (a fresh token per run); the
    baseline's commands name it.
    """
    sizes = bench.sizes
    result: dict[str, Any] = {"by_clients": {}}
    rss_after: dict[str, Any] | None = None
    for clients in sizes.write_clients:
        api_runs: list[dict[str, Any]] = []
        keyed_runs: list[dict[str, Any]] = []
        base_runs: list[dict[str, Any]] = []
        if sizes.write_warmup_s > 0:
            write_warmup(bench, clients, sizes.write_warmup_s)
        for run in range(sizes.runs):
            bench.quiesce()
            api = write_run(bench, clients, sizes.write_duration_s)
            api_runs.append(api)
            if clients == sizes.write_clients[-1] and run == sizes.runs - 1:
                rss_after = rss_snapshot(bench.services)
            log.info("write api  c=%d run=%d: %.0f req/s p99 %.1f ms",
                     clients, run, api["rps"], api["latency"]["p99_ms"] or -1)  # fmt: skip
            bench.quiesce()
            keyed = write_run(bench, clients, sizes.write_duration_s, keyed=True)
            keyed_runs.append(keyed)
            log.info("write key  c=%d run=%d: %.0f req/s p99 %.1f ms",
                     clients, run, keyed["rps"], keyed["latency"]["p99_ms"] or -1)  # fmt: skip
            bench.quiesce()
            meter = bench.cpu_meter()
            meter.start()
            base, base_cpu = run_generator(
                "produce",
                {
                    "bootstrap": bench.stack.kafka,
                    "topic": topics.COMMANDS,
                    "clients": clients,
                    "duration_s": sizes.write_duration_s,
                    "warmup_s": min(1.0, sizes.write_warmup_s),
                    "pg": asdict(bench.stack.postgres),
                    "owner_id": bench.user.user_id,
                },
                timeout=sizes.write_duration_s + 120,
            )
            base["services_cpu_cores"] = meter.stop()
            base["generator_cpu"] = base_cpu
            base_runs.append(base)
            log.info("write base c=%d run=%d: %.0f req/s p99 %.1f ms",
                     clients, run, base["rps"], base["latency"].get("p99_ms", -1))  # fmt: skip
        result["by_clients"][str(clients)] = {
            "api": {"summary": run_summary(api_runs, "p50_ms", "p99_ms"), "runs": api_runs},
            "keyed": {"summary": run_summary(keyed_runs, "p50_ms", "p99_ms"), "runs": keyed_runs},
            "baseline": {"summary": run_summary(base_runs, "p50_ms", "p99_ms"), "runs": base_runs},
        }
    result["rss_after_write"] = rss_after
    bench.quiesce()
    return result


def write_warmup(bench: Bench, clients: int, duration_s: float) -> None:
    """POST creates with wrk for `duration_s`, figures discarded (caches, connections, pools)."""
    lua = authorized(post_json_script(WRITE_BODY), bench.user.token())
    run_wrk(f"{bench.stack.write_url}/api/todos/", connections=clients, duration_s=duration_s,
            lua=lua)  # fmt: skip


def write_run(
    bench: Bench, clients: int, duration_s: float, *, keyed: bool = False
) -> dict[str, Any]:
    """One wrk run POSTing creates at `clients` connections; with the services' and wrk's CPU.

    `keyed`: every request carries a new Idempotency-Key.
    """
    body = (
        post_json_keyed_script(WRITE_BODY, time.time_ns() // 1_000_000)
        if keyed
        else post_json_script(WRITE_BODY)
    )
    lua = authorized(body, bench.user.token())
    meter = bench.cpu_meter()
    meter.start()
    api, gen_cpu = run_wrk(
        f"{bench.stack.write_url}/api/todos/", connections=clients, duration_s=duration_s, lua=lua
    )
    api["services_cpu_cores"] = meter.stop()
    api["generator_cpu"] = gen_cpu
    return api


# --- end-to-end -------------------------------------------------------------------------------


def e2e_run(bench: Bench, rate: int, duration_s: float | None = None) -> dict[str, Any]:
    """One open-loop run at `rate` writes/s (default: e2e_duration_s long), 202 -> readable."""
    sizes = bench.sizes
    duration_s = sizes.e2e_duration_s if duration_s is None else duration_s
    changelog = changelog_topic(sizes.pipeline_group)
    partitions = bench.kafka.partitions(changelog)
    if not partitions:
        raise RuntimeError(f"no changelog topic {changelog}: is the worker's app id the group?")
    bench.quiesce()
    meter = bench.cpu_meter()
    meter.start()
    with LagSampler(bench) as sampler:
        res, cpu = run_generator(
            "openloop",
            {
                "write_url": f"{bench.stack.write_url}/api/todos/",
                "read_url": bench.stack.read_url,
                "bootstrap": bench.stack.kafka,
                "changelog_topic": changelog,
                "changelog_partitions": partitions,
                "rate": rate,
                "duration_s": duration_s,
                "sample_every": sizes.e2e_sample_every,
                "sample_max_rate": sizes.e2e_sample_max_rate,
                "first_poll_s": sizes.e2e_sample_first_poll_s,
                "max_poll_s": sizes.e2e_sample_max_poll_s,
                "probe_max_rps": sizes.e2e_probe_max_rps,
                "visible_timeout_s": sizes.e2e_visible_timeout_s,
            },
            timeout=duration_s + 2 * sizes.e2e_visible_timeout_s + 120,
            env=bench.user.child_env(),
        )
    res["services_cpu_cores"] = meter.stop()
    res["services_run_queue"] = meter.run_queue()
    res["generator_cpu"] = cpu
    res["lag_samples"] = sampler.samples
    growing, slope = lag_growing(sampler.samples, rate)
    p99 = res["latency"].get("p99_ms")
    res["lag_slope_per_s"] = slope
    res["lag_growing"] = growing
    res["steady"] = bool(
        p99 is not None
        and p99 < sizes.e2e_p99_limit_ms
        and not growing
        and res["invisible"] == 0
        and res["errors"] == 0
        and res["non_202"] == 0
        and res["achieved_rate"] >= 0.95 * rate
    )
    p50 = res["latency"].get("p50_ms", -1)
    http_p99 = res["http_sample"]["http_latency"].get("p99_ms")
    log.info("e2e %d/s: p50 %.0f p99 %.0f ms (http sample p99 %.0f ms, n=%d), steady=%s,"
             " generator %.2f cores, probe %.3f cores %.1f req/s",
             rate, p50, p99 or -1, http_p99 or -1, res["http_sample"]["sampled"], res["steady"],
             cpu["cpu_cores"], res["probe"]["cpu_cores"] or -1,
             res["probe"]["http_rps"] or 0)  # fmt: skip
    return res


def _stage_baseline(bench: Bench) -> dict[str, Any]:
    """Kafka produce->consume, a PostgreSQL single-row commit, Debezium's capture delay."""
    bench.kafka.ensure_topic(PROBE_TOPIC, bench.stack.partitions)
    runs = []
    for _ in range(bench.sizes.runs):
        res, cpu = run_generator(
            "stages",
            {
                "bootstrap": bench.stack.kafka,
                "probe_topic": PROBE_TOPIC,
                "cdc_topic": topics.CHANGES,
                "pg": asdict(bench.stack.postgres),
                "samples": bench.sizes.stage_samples,
                "interval_s": 0.02,
                "capture_timeout_s": 15.0,
                "partitions": bench.kafka.partitions(topics.CHANGES),
                "owner_id": bench.user.user_id,
            },
            timeout=bench.sizes.stage_samples * 20 + 120,
        )
        res["generator_cpu"] = cpu
        stages = ("produce_to_consume", "pg_commit", "debezium_capture")
        for pct in ("p50_ms", "p95_ms", "p99_ms"):
            values = [res[s].get(pct) for s in stages]
            res[f"sum_{pct}"] = sum(values) if all(v is not None for v in values) else None
        runs.append(res)
    summary = {
        f"sum_{p}": spread(r[f"sum_{p}"] for r in runs) for p in ("p50_ms", "p95_ms", "p99_ms")
    }
    for stage in ("produce_to_consume", "ack_to_consume", "pg_commit", "debezium_capture"):
        summary[stage] = {
            p: spread(r[stage].get(p) for r in runs) for p in ("p50_ms", "p95_ms", "p99_ms")
        }
    return {"summary": summary, "runs": runs}


def _run_queue_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The worker's event-loop thread's run and CPU wait, and every service's wait, per run."""
    worker = [r.get("services_run_queue", {}).get("streams", {}) for r in runs]
    return {
        "worker_thread_run": spread(w.get("busiest_thread_run") for w in worker),
        "worker_thread_wait": spread(w.get("busiest_thread_wait") for w in worker),
        "services_waiting_cores": spread(
            sum(s["waiting_cores"] for s in r["services_run_queue"].values())
            if r.get("services_run_queue")
            else None
            for r in runs
        ),
    }


def e2e_path(bench: Bench) -> dict[str, Any]:
    """202 -> readable at the read API, open loop at fixed rates; then the highest steady rate."""
    sizes = bench.sizes
    result: dict[str, Any] = {"baseline": _stage_baseline(bench), "by_rate": {}}
    verdicts: dict[int, bool] = {}
    for rate in sizes.e2e_rates:
        runs = [e2e_run(bench, rate) for _ in range(sizes.runs)]
        steady_runs = sum(r["steady"] for r in runs)
        verdicts[rate] = steady_runs * 2 > len(runs)
        result["by_rate"][str(rate)] = {
            "summary": {
                **{
                    k: spread(r["latency"].get(k) for r in runs)
                    for k in ("p50_ms", "p95_ms", "p99_ms")
                },
                "achieved_rate": spread(r["achieved_rate"] for r in runs),
                "generator_cpu_cores": spread(r["generator_cpu"]["cpu_cores"] for r in runs),
                "probe_cpu_cores": spread(r["probe"]["cpu_cores"] for r in runs),
                "probe_http_rps": spread(r["probe"]["http_rps"] for r in runs),
                "http_sample_p50_ms": spread(
                    r["http_sample"]["http_latency"].get("p50_ms") for r in runs
                ),
                "http_sample_p99_ms": spread(
                    r["http_sample"]["http_latency"].get("p99_ms") for r in runs
                ),
                "http_minus_changelog_p50_ms": spread(
                    r["http_sample"]["http_minus_changelog"].get("p50_ms") for r in runs
                ),
                "http_samples": sum(r["http_sample"]["sampled"] for r in runs),
                "http_never_200": sum(r["http_sample"]["http_never_200"] for r in runs),
                **_run_queue_summary(runs),
                "steady_runs": steady_runs,
                "steady": verdicts[rate],
            },
            "runs": runs,
        }
    # Highest steady rate: climb the search ladder between the highest steady fixed rate and
    # the lowest unsteady one, one run per step, stopping at the first unsteady step.
    passing = [r for r, ok in verdicts.items() if ok]
    failing = [r for r, ok in verdicts.items() if not ok]
    floor = max(passing, default=0)
    ceiling = min((r for r in failing if r > floor), default=None)
    search: list[dict[str, Any]] = []
    for rate in sorted(sizes.e2e_search_rates):
        if rate <= floor or (ceiling is not None and rate >= ceiling):
            continue
        run = e2e_run(bench, rate)
        search.append({"rate": rate, "steady": run["steady"], "run": run})
        if not run["steady"]:
            break
        floor = rate
    result["search"] = search
    result["max_steady_rate"] = floor or None
    result["max_steady_rate_bound"] = (
        ceiling if not search or search[-1]["steady"] else search[-1]["rate"]
    )
    bench.quiesce()
    return result


# --- memory -----------------------------------------------------------------------------------


def idle_memory(bench: Bench) -> dict[str, Any]:
    """RSS of each service's process tree, now (call it while the stack is idle)."""
    bench.refresh_services()
    return rss_snapshot(bench.services)
