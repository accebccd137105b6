"""The soak path: steady mixed load for a long time, every process's memory, FDs and the lag."""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any

from bench.context import Bench
from bench.gen.mixed import generator_env
from bench.logscan import follow_logs
from bench.procs import BackgroundGenerator, fd_snapshot, rss_snapshot, shared_segment_snapshot
from bench.reads import wait_projected
from bench.seed import seed_to
from bench.stats import lag_growing
from bench.write_api_counts import scrape_write_counts
from contracts import topics

log = logging.getLogger("bench")

GROWTH_TARGET_PCT = 10.0
# The RSS "after warm-up" and "at the end" are medians of this many seconds of samples, so one
# reading taken during a garbage collection does not decide the verdict.
RSS_WINDOW_S = 60.0
# The services whose fixed shared memory segment is reported beside their PSS.
SEGMENT_SERVICES = ("postgres",)


def soak_path(bench: Bench) -> dict[str, Any]:
    """Drive the mixed load for soak_minutes; sample every soak_sample_s; summarise."""
    sizes = bench.sizes
    duration_s = sizes.soak_minutes * 60.0
    warmup_s = min(sizes.soak_warmup_minutes * 60.0, duration_s / 3)
    bench.refresh_services()
    seeded = seed_to(bench.stack.postgres.conninfo, sizes.soak_seed_todos, bench.user.user_id)
    wait_projected(bench, seeded.last_id, timeout_s=600.0)
    bench.quiesce()
    followers = follow_logs(bench.stack.state_dir / "logs")
    user = bench.user
    env = generator_env(user)
    counts_before = scrape_write_counts(bench.stack.write_url)
    generator = BackgroundGenerator(
        "mixed",
        {
            "write_url": f"{bench.stack.write_url}/api/todos",
            "read_url": bench.stack.read_url,
            "rate": sizes.soak_rate,
            "mix": list(sizes.soak_mix),
            "read_rate": sizes.soak_read_rate,
            "duration_s": duration_s,
            "title_prefix": "soak",
        },
        env=env,
    )
    samples: list[dict[str, Any]] = []
    t0 = time.monotonic()
    while True:
        samples.append(_sample(bench, followers, counts_before, time.monotonic() - t0))
        if not generator.running():
            break
        time.sleep(max(0.0, sizes.soak_sample_s - (time.monotonic() - t0) % sizes.soak_sample_s))
    load, cpu = generator.finish(timeout=120)
    load["generator_cpu"] = cpu
    result = summarize(samples, warmup_s=warmup_s, rate=sizes.soak_rate)
    result.update(
        {
            "duration_s": duration_s,
            "warmup_s": warmup_s,
            "sample_s": sizes.soak_sample_s,
            "rate": sizes.soak_rate,
            "mix": list(sizes.soak_mix),
            "seed_todos": sizes.soak_seed_todos,
            "read_rate": sizes.soak_read_rate,
            "load": load,
            "samples": samples,
            "error_examples": {n: f.examples for n, f in followers.items() if f.examples},
        }
    )
    log.info("soak: %d samples, achieved %.1f writes/s, generator %.2f cores",
             len(samples), load["achieved_rate"], cpu["cpu_cores"])  # fmt: skip
    bench.quiesce()
    return result


def _sample(
    bench: Bench,
    followers: dict[str, Any],
    counts_before: dict[str, int] | None,
    t: float,
) -> dict[str, Any]:
    """One reading of every figure the soak records."""
    try:
        lag: dict[str, int] | None = bench.kafka.lag(topics.PIPELINE, bench.sizes.pipeline_group)
    except Exception as exc:  # a slow admin call: this reading has no lag
        log.debug("lag sample failed: %s", exc)
        lag = None
    counts = scrape_write_counts(bench.stack.write_url)
    if counts is not None and counts_before is not None:
        counts = {k: v - counts_before.get(k, 0) for k, v in counts.items()}
    memory = rss_snapshot(bench.services, pss=True)
    segments = {
        n: shared_segment_snapshot(p) for n, p in bench.services.items() if n in SEGMENT_SERVICES
    }
    return {
        "t": round(t, 1),
        "rss_mib": {n: v["rss_mib"] for n, v in memory.items()},
        "pss_mib": {n: v["pss_mib"] for n, v in memory.items()},
        "segment_mib": segments,
        "process_count": {n: v["processes"] for n, v in memory.items()},
        "fds": fd_snapshot(bench.services),
        "lag": lag,
        "write_api": counts,
        "error_lines": {n: f.poll() for n, f in followers.items()},
    }


def _window_median(points: list[tuple[float, float]], start: float, end: float) -> float | None:
    values = [v for t, v in points if start <= t <= end]
    return statistics.median(values) if values else None


def _warm_end_growth(
    points: list[tuple[float, float]], warmup_s: float, end_t: float
) -> tuple[float | None, float | None, float | None]:
    """The median after warm-up, the median at the end, and the growth between them in %."""
    warm = _window_median(points, warmup_s, warmup_s + RSS_WINDOW_S)
    end = _window_median(points, end_t - RSS_WINDOW_S, end_t)
    growth = round((end - warm) / warm * 100, 1) if warm and end is not None else None
    return warm, end, growth


def _segment_figures(
    samples: list[dict[str, Any]], name: str, warmup_s: float, end_t: float
) -> dict[str, Any]:
    """The shared segment's touched PSS, its size, and the growth of the PSS outside it."""
    with_segment = [
        s for s in samples if name in s.get("pss_mib", {}) and name in s.get("segment_mib", {})
    ]
    if not with_segment:
        return {}
    touched = [(s["t"], s["segment_mib"][name]["pss_mib"]) for s in with_segment]
    outside = [(t, s["pss_mib"][name] - v) for s, (t, v) in zip(with_segment, touched, strict=True)]
    # A process per connection (PostgreSQL): the memory outside the segment follows how many
    # connections are open, so it is also given per process of the tree.
    per_process = [
        (t, v / s["process_count"][name])
        for s, (t, v) in zip(with_segment, outside, strict=True)
        if s.get("process_count", {}).get(name)
    ]
    warm, end, _ = _warm_end_growth(touched, warmup_s, end_t)
    counts = [s["process_count"][name] for s in with_segment if name in s.get("process_count", {})]
    return {
        "segment_pss_after_warmup_mib": warm,
        "segment_pss_end_mib": end,
        "segment_size_mib": max(s["segment_mib"][name]["size_mib"] for s in with_segment),
        "outside_growth_pct": _warm_end_growth(outside, warmup_s, end_t)[2],
        "outside_per_process_growth_pct": _warm_end_growth(per_process, warmup_s, end_t)[2],
        "processes_min": min(counts, default=None),
        "processes_max": max(counts, default=None),
    }


def summarize(samples: list[dict[str, Any]], *, warmup_s: float, rate: float) -> dict[str, Any]:
    """Per process RSS growth after warm-up and FDs; lag max and trend; error lines; verdicts."""
    if not samples:
        return {"processes": {}, "lag": {}, "error_lines": {}, "targets": {}}
    end_t = samples[-1]["t"]
    processes: dict[str, dict[str, Any]] = {}
    names = sorted({n for s in samples for n in s["rss_mib"]})
    for name in names:
        rss = [(s["t"], s["rss_mib"][name]) for s in samples if name in s["rss_mib"]]
        warm, end, growth = _warm_end_growth(rss, warmup_s, end_t)
        pss = [(s["t"], s["pss_mib"][name]) for s in samples if name in s.get("pss_mib", {})]
        pss_warm, pss_end, pss_growth = _warm_end_growth(pss, warmup_s, end_t)
        segment = _segment_figures(samples, name, warmup_s, end_t)
        # With no shared segment, all of a process's PSS is outside one.
        outside_growth = segment.pop("outside_growth_pct", pss_growth)
        fds = [s["fds"].get(name) for s in samples if s["fds"].get(name) is not None]
        processes[name] = {
            "rss_start_mib": rss[0][1],
            "rss_after_warmup_mib": warm,
            "rss_end_mib": end,
            "rss_max_mib": max(v for _, v in rss),
            "growth_pct": growth,
            "pss_after_warmup_mib": pss_warm,
            "pss_end_mib": pss_end,
            "pss_growth_pct": pss_growth,
            "pss_outside_segment_growth_pct": outside_growth,
            **segment,
            "fds_start": fds[0] if fds else None,
            "fds_end": fds[-1] if fds else None,
            "fds_max": max(fds) if fds else None,
        }
    lag_points = [{"t": s["t"], **s["lag"]} for s in samples if s["lag"] is not None]
    total = [sum(v for k, v in p.items() if k != "t") for p in lag_points]
    last_half = [p for p in lag_points if p["t"] >= end_t / 2]
    growing, slope = lag_growing(last_half, rate)
    lag = {
        "max": max(total) if total else None,
        "max_by_topic": {
            t: max((p.get(t, 0) for p in lag_points), default=None) for t in topics.PIPELINE
        },
        "end": total[-1] if total else None,
        "slope_last_half_per_s": round(slope, 3) if slope is not None else None,
        "growing": growing,
    }
    errors = dict(samples[-1]["error_lines"])
    write_api = samples[-1].get("write_api")
    growths = [p["growth_pct"] for p in processes.values() if p["growth_pct"] is not None]
    pss_growths = [
        p["pss_growth_pct"] for p in processes.values() if p["pss_growth_pct"] is not None
    ]
    outside_growths = [
        p["pss_outside_segment_growth_pct"]
        for p in processes.values()
        if p["pss_outside_segment_growth_pct"] is not None
    ]
    targets = {
        "rss_growth_under_10pct": bool(growths) and max(growths) < GROWTH_TARGET_PCT,
        "pss_growth_under_10pct": bool(pss_growths) and max(pss_growths) < GROWTH_TARGET_PCT,
        "pss_outside_segments_under_10pct": bool(outside_growths)
        and max(outside_growths) < GROWTH_TARGET_PCT,
        "lag_not_growing": bool(lag_points) and not growing,
        "no_error_lines": sum(errors.values()) == 0,
    }
    return {
        "processes": processes,
        "lag": lag,
        "error_lines": errors,
        "write_api": write_api,
        "targets": targets,
    }


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def soak_table(result: dict[str, Any]) -> str:
    """The soak's figures as Markdown: per process, then the lag, the errors, the writes."""
    targets = result.get("targets", {})
    minutes = result.get("duration_s", 0) / 60
    lines = [
        f"soak: {minutes:.0f} min at {result.get('rate')} writes/s"
        f" (mix create/update/delete {'/'.join(str(m) for m in result.get('mix', []))}"
        f" on {result.get('seed_todos', 0):,} seeded todos),"
        f" {result.get('read_rate')} reads/s, sampled every {result.get('sample_s')} s,"
        f" warm-up {result.get('warmup_s', 0) / 60:.1f} min",
        "",
        "| process | RSS start MiB | RSS after warm-up MiB | RSS end MiB | growth % | PSS after"
        " warm-up MiB | PSS end MiB | PSS growth % | PSS growth outside its shared segment %"
        " | FDs start | FDs end | FDs max |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in result.get("processes", {}).items():
        lines.append(
            f"| {name} | {_fmt(p['rss_start_mib'])} | {_fmt(p['rss_after_warmup_mib'])}"
            f" | {_fmt(p['rss_end_mib'])} | {_fmt(p['growth_pct'])}"
            f" | {_fmt(p.get('pss_after_warmup_mib'))} | {_fmt(p.get('pss_end_mib'))}"
            f" | {_fmt(p.get('pss_growth_pct'))} | {_fmt(p.get('pss_outside_segment_growth_pct'))}"
            f" | {_fmt(p['fds_start'])}"
            f" | {_fmt(p['fds_end'])} | {_fmt(p['fds_max'])} |"
        )
    for name, p in result.get("processes", {}).items():
        if p.get("segment_size_mib") is not None:
            lines.append(
                f"\n{name}'s shared memory segment (reserved at start, backed as first touched):"
                f" {_fmt(p['segment_pss_after_warmup_mib'])} MiB touched after warm-up,"
                f" {_fmt(p['segment_pss_end_mib'])} MiB at the end,"
                f" of {_fmt(p['segment_size_mib'])} MiB; PSS outside it per process grew"
                f" {_fmt(p.get('outside_per_process_growth_pct'))} %"
                f" ({_fmt(p.get('processes_min'))} to {_fmt(p.get('processes_max'))} processes)"
            )
    lag = result.get("lag", {})
    load = result.get("load", {})
    write_api = result.get("write_api") or {}
    reads = load.get("reads", {})
    latency = load.get("write_latency") or {}
    cpu = load.get("generator_cpu", {})
    by_topic = ", ".join(f"{t} {_fmt(v)}" for t, v in (lag.get("max_by_topic") or {}).items())
    errors = result.get("error_lines", {})
    error_text = ", ".join(f"{n} {c}" for n, c in errors.items() if c) or "none"
    refused = (
        load.get("refused_503", 0) + load.get("connection_errors", 0) + load.get("timeouts", 0)
    )
    lines += [
        "",
        "| figure | value | target | |",
        "|---|---|---|---|",
        f"| largest RSS growth after warm-up | {_fmt(_largest_growth(result))} %"
        f" | < {GROWTH_TARGET_PCT:.0f} % | {_met(targets.get('rss_growth_under_10pct', False))} |",
        f"| largest PSS growth after warm-up | {_fmt(_largest_growth(result, 'pss_growth_pct'))} %"
        f" | < {GROWTH_TARGET_PCT:.0f} % | {_met(targets.get('pss_growth_under_10pct', False))} |",
        "| largest PSS growth outside a fixed shared segment after warm-up"
        f" | {_fmt(_largest_growth(result, 'pss_outside_segment_growth_pct'))} %"
        f" | < {GROWTH_TARGET_PCT:.0f} %"
        f" | {_met(targets.get('pss_outside_segments_under_10pct', False))} |",
        f"| consumer lag max (records) | {_fmt(lag.get('max'))} ({by_topic}) | | |",
        f"| lag trend over the last half (records/s) | {_fmt(lag.get('slope_last_half_per_s'), 3)}"
        f" | not growing | {_met(targets.get('lag_not_growing', False))} |",
        f"| ERROR lines in the logs since the start | {error_text} | none"
        f" | {_met(targets.get('no_error_lines', False))} |",
        f"| writes accepted / refused / failed (generator) | {_fmt(load.get('accepted'))}"
        f" / {_fmt(refused)} / {_fmt(load.get('failed_other_status'))} | | |",
        f"| writes accepted / refused / failed (write API's /metrics) |"
        f" {_fmt(write_api.get('accepted'))} / {_fmt(write_api.get('refused'))}"
        f" / {_fmt(write_api.get('failed'))} | | |",
        f"| achieved write rate (/s) | {_fmt(load.get('achieved_rate'))}"
        f" | {result.get('rate')} | |",
        f"| write 202 latency p50 / p99 ms | {_fmt(latency.get('p50_ms'))}"
        f" / {_fmt(latency.get('p99_ms'))} | | |",
        f"| reads: by id 200 / 404 / list 200 / failed | {_fmt(reads.get('by_id_200'))}"
        f" / {_fmt(reads.get('by_id_404'))} / {_fmt(reads.get('list_200'))}"
        f" / {_fmt((reads.get('failed') or 0) + (reads.get('errors') or 0))} | | |",
        f"| generator CPU (cores) | {_fmt(cpu.get('cpu_cores'), 3)} | | |",
    ]
    return "\n".join(lines)


def _largest_growth(result: dict[str, Any], key: str = "growth_pct") -> float | None:
    growths = [p[key] for p in result.get("processes", {}).values() if p.get(key) is not None]
    return max(growths) if growths else None
