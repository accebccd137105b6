"""The soak's PNG: each process's RSS, its open file descriptors and the consumer lag over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.plot import save_figure
from contracts import topics


def _axis(ax: Any, ylabel: str, title: str, warmup_min: float) -> None:
    ax.axvline(warmup_min, color="gray", linestyle=":", linewidth=1, label="end of warm-up")
    ax.set_xlabel("minutes into the soak")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")


def draw_soak(results: dict[str, Any], path: Path) -> Path | None:
    """Draw the three panels into `path` (PNG); None when the run has no soak."""
    soak = results.get("soak") or {}
    samples = soak.get("samples") or []
    if not samples:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(12, 12), sharex=True)
    warmup_min = soak.get("warmup_s", 0) / 60
    names = sorted({n for s in samples for n in s["rss_mib"]})
    for name in names:
        pts = [(s["t"] / 60, s["rss_mib"][name]) for s in samples if name in s["rss_mib"]]
        (line,) = axes[0].plot(*zip(*pts, strict=True), label=f"{name} RSS", linewidth=1.2)
        pss = [(s["t"] / 60, s["pss_mib"][name]) for s in samples if name in s.get("pss_mib", {})]
        if pss:
            axes[0].plot(*zip(*pss, strict=True), label=f"{name} PSS", linewidth=1.0,
                         linestyle="--", color=line.get_color())  # fmt: skip
        segment = [
            (s["t"] / 60, s["segment_mib"][name]["pss_mib"])
            for s in samples
            if name in s.get("segment_mib", {})
        ]
        if segment:
            axes[0].plot(*zip(*segment, strict=True), label=f"{name} shared segment touched",
                         linewidth=1.0, linestyle=":", color=line.get_color())  # fmt: skip
        fds = [(s["t"] / 60, s["fds"][name]) for s in samples if s["fds"].get(name) is not None]
        if fds:
            axes[1].plot(*zip(*fds, strict=True), label=name, linewidth=1.2)
    for topic in topics.PIPELINE:
        lag = [(s["t"] / 60, s["lag"].get(topic, 0)) for s in samples if s["lag"] is not None]
        if lag:
            axes[2].plot(*zip(*lag, strict=True), label=topic, linewidth=1.2)
    axes[0].set_yscale("log")
    _axis(
        axes[0],
        "MiB, process tree",
        "memory of each process: RSS, PSS dashed, shared segment dotted",
        warmup_min,
    )
    _axis(axes[1], "open file descriptors", "file descriptors of each process", warmup_min)
    _axis(axes[2], "records not committed", "consumer lag of the worker's group", warmup_min)
    meta = results.get("meta") or {}
    machine = meta.get("machine") or {}
    fig.suptitle(
        f"todo-eda soak {meta.get('started_at', '')}: {soak.get('rate')} writes/s,"
        f" {soak.get('duration_s', 0) / 60:.0f} min - {machine.get('cores')} cores,"
        f" {machine.get('memory_gib')} GiB",
        fontsize=11,
    )
    return save_figure(fig, path)
