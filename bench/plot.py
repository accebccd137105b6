"""The PNG: latency against percentile for each path, the system beside its baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.stats import median_run


def save_figure(fig: Any, path: Path) -> Path:
    """Lay out `fig`, write it to `path` as a PNG (folders made), close it; return the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _curve(run: dict[str, Any] | None) -> tuple[list[float], list[float]] | None:
    curve = ((run or {}).get("latency") or {}).get("curve_ms")
    if not curve:
        return None
    # x as 1/(1-p): the tail gets the room it deserves (HdrHistogram's plot).
    pts = [(p, v) for p, v in curve if p < 100]
    return [1.0 / (1.0 - p / 100.0) for p, _ in pts], [v for _, v in pts]


def _panel(ax: Any, title: str, series: list[tuple[str, dict[str, Any] | None, str]]) -> None:
    for label, run, style in series:
        c = _curve(run)
        if c:
            ax.plot(c[0], c[1], style, label=label, linewidth=1.4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [1, 2, 10, 100, 1000]
    ax.set_xticks(ticks)
    ax.set_xticklabels(["0%", "50%", "90%", "99%", "99.9%"])
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def draw(results: dict[str, Any], path: Path) -> Path:
    """Draw the four panels into `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]

    write = results.get("write") or {}
    series = []
    for i, (clients, data) in enumerate((write.get("by_clients") or {}).items()):
        color = colors[i % len(colors)]
        series.append(
            (f"POST /api/todos/ c={clients}", median_run(data["api"]["runs"], "rps"), "-")
        )
        series.append(
            (f"baseline produce c={clients}", median_run(data["baseline"]["runs"], "rps"), "--")
        )
        del color
    _panel(axes[0][0], "write: POST 202 vs acks=all produce (median run)", series)

    e2e = results.get("e2e") or {}
    series = []
    for rate, data in (e2e.get("by_rate") or {}).items():
        runs = data["runs"]
        rep = median_run([{**r, "p99": r["latency"].get("p99_ms")} for r in runs], "p99")
        series.append((f"202 -> readable @ {rate}/s", rep, "-"))
    base_runs = (e2e.get("baseline") or {}).get("runs") or []
    if base_runs:
        rep = base_runs[len(base_runs) // 2]
        for stage in ("produce_to_consume", "pg_commit", "debezium_capture"):
            series.append((f"stage: {stage}", {"latency": rep.get(stage)}, ":"))
    _panel(axes[0][1], "end-to-end: 202 -> readable on :8080, and the raw stages", series)

    read = results.get("read") or {}
    series = []
    for name, data in (read.get("targets") or {}).items():
        style = "-" if name in ("by_id", "list_limit_100") else "--"
        series.append((name, median_run(data["runs"], "rps"), style))
    _panel(axes[1][0], f"read at {read.get('clients', '?')} clients (median run)", series)

    ax = axes[1][1]
    for rate, data in (e2e.get("by_rate") or {}).items():
        timeline = data["runs"][0].get("timeline") or []
        if timeline:
            ax.plot([t for t, _ in timeline], [v for _, v in timeline], ".", markersize=2,
                    label=f"{rate}/s (run 1)")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("202 -> readable (ms)")
    ax.set_title("end-to-end latency over time (is it steady?)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)

    machine = (results.get("meta") or {}).get("machine") or {}
    fig.suptitle(
        f"todo-eda bench {results.get('meta', {}).get('started_at', '')} -"
        f" {machine.get('cores')} cores, {machine.get('memory_gib')} GiB",
        fontsize=11,
    )
    return save_figure(fig, path)


_GROWTH_SERIES = (
    ("list_first", "list ?limit=100, first page", "tab:blue"),
    ("list_after", "list ?limit=100, random after", "tab:orange"),
    ("by_id", "GET by id", "tab:green"),
    ("constant_view", "constant view (baseline)", "tab:gray"),
)


def _growth_axis(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def draw_growth(results: dict[str, Any], path: Path) -> Path | None:
    """Draw cost against size (req/s, p99 per path vs todos; replay vs events) into `path`."""
    growth = (results.get("growth") or {}).get("by_size") or {}
    replay = (results.get("replay") or {}).get("by_events") or {}
    if not growth and not replay:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    steps = sorted(growth.values(), key=lambda s: s["todos"])
    for name, label, color in _GROWTH_SERIES:
        pts = [
            (s["todos"], s["targets"][name]["summary"])
            for s in steps
            if name in s.get("targets", {})
        ]
        rps = [(x, m["rps"]["median"]) for x, m in pts if m["rps"]["median"] is not None]
        p99 = [(x, m["p99_ms"]["median"]) for x, m in pts if m["p99_ms"]["median"] is not None]
        style = "--" if name == "constant_view" else "-"
        if rps:
            axes[0].plot(*zip(*rps, strict=True), style + "o", color=color, label=label)
        if p99:
            axes[1].plot(*zip(*p99, strict=True), style + "o", color=color, label=label)
    axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    clients = (results.get("growth") or {}).get("clients", "?")
    _growth_axis(axes[0], "todos in the read model", "req/s (median)",
                 f"read throughput vs size, {clients} clients")  # fmt: skip
    _growth_axis(axes[1], "todos in the read model", "p99 latency (ms, median)",
                 f"read p99 vs size, {clients} clients")  # fmt: skip
    pts = sorted((int(n), d) for n, d in replay.items())
    rebuild = [(n, d["rebuild"]["summary"]["events_per_s"]["median"]) for n, d in pts]
    raw = [(n, d["raw_aiokafka"]["summary"]["events_per_s"]["median"]) for n, d in pts]
    for series, label, style in ((rebuild, "rebuild (fresh worker)", "-o"),
                                 (raw, "raw aiokafka (baseline)", "--o")):  # fmt: skip
        shown = [(x, y) for x, y in series if y is not None]
        if shown:
            axes[2].plot(*zip(*shown, strict=True), style, label=label)
    axes[2].set_yscale("log")
    _growth_axis(axes[2], "events replayed from offset 0", "events/s (median)",
                 "replay vs size")  # fmt: skip
    fig.suptitle(f"todo-eda cost against size {results.get('meta', {}).get('started_at', '')}")
    return save_figure(fig, path)
