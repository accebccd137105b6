"""The one table: each figure as median [min-max] beside its baseline and the issue's target."""

from __future__ import annotations

from typing import Any

Row = tuple[str, str, str, str, str, str]


def _fmt(s: dict[str, Any] | None, digits: int = 0) -> str:
    if not s or s.get("median") is None:
        return "-"
    med, lo, hi = s["median"], s["min"], s["max"]
    if s.get("runs", 0) <= 1:
        return f"{med:,.{digits}f}"
    return f"{med:,.{digits}f} [{lo:,.{digits}f}-{hi:,.{digits}f}]"


def _med(s: dict[str, Any] | None) -> float | None:
    return None if not s else s.get("median")


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "MISSED")


def _pct(part: float | None, whole: float | None) -> float | None:
    return None if not part or not whole else 100.0 * part / whole


def _e2e_rows(e2e: dict[str, Any] | None) -> list[Row]:
    if not e2e:
        return []
    out: list[Row] = []
    base = e2e["baseline"]["summary"]
    base_text = (f"{_fmt(base['sum_p50_ms'], 0)} / {_fmt(base['sum_p95_ms'], 0)}"
                 f" / {_fmt(base['sum_p99_ms'], 0)}")  # fmt: skip
    for rate, data in e2e["by_rate"].items():
        s = data["summary"]
        target, ok = "", None
        if rate == "200":
            target, ok = "p99 <= 250", (_med(s["p99_ms"]) or 1e9) <= 250
        steady = "" if s["steady"] else " (unsteady)"
        out.append(("e2e", f"202->readable p50/p95/p99 ms @ {rate}/s{steady} (changelog)",
                    f"{_fmt(s['p50_ms'])} / {_fmt(s['p95_ms'])} / {_fmt(s['p99_ms'])}",
                    f"raw stages {base_text}", target, _verdict(ok)))  # fmt: skip
        if "http_sample_p99_ms" in s:
            label = f"  same @ {rate}/s by HTTP sample p50/p99 ms (n={s['http_samples']})"
            out.append(("e2e", label,
                        f"{_fmt(s['http_sample_p50_ms'])} / {_fmt(s['http_sample_p99_ms'])}",
                        f"HTTP - changelog p50 {_fmt(s['http_minus_changelog_p50_ms'], 1)} ms,"
                        f" {s.get('http_never_200', 0)} never 200 in time",
                        "agrees", "-"))  # fmt: skip
            generator = f"generator {_fmt(s['generator_cpu_cores'], 2)} cores"
            out.append(("e2e", f"  probe @ {rate}/s: CPU cores / HTTP req/s",
                        f"{_fmt(s['probe_cpu_cores'], 3)} / {_fmt(s['probe_http_rps'], 1)}",
                        generator, "", "-"))  # fmt: skip
        if "worker_thread_wait" in s:
            # A one-thread stage waiting for a core as long as it runs is starved, not slow.
            out.append(("e2e", f"  CPU @ {rate}/s: worker loop thread ran / waited, s per s",
                        f"{_fmt(s['worker_thread_run'], 2)} / {_fmt(s['worker_thread_wait'], 2)}",
                        f"all services waited {_fmt(s['services_waiting_cores'], 2)} cores;"
                        f" {_fmt(s['achieved_rate'])} writes/s achieved", "", "-"))  # fmt: skip
    best = e2e.get("max_steady_rate")
    bound = e2e.get("max_steady_rate_bound")
    out.append(("e2e", "highest steady rate, writes/s (changelog probe)",
                f"{best or 0:,}" + (f" (< {bound:,})" if bound else ""), "",
                ">= 1,000", _verdict((best or 0) >= 1000)))  # fmt: skip
    return out


def _read_rows(read: dict[str, Any] | None) -> list[Row]:
    if not read:
        return []
    out: list[Row] = []
    t = read["targets"]
    const = t.get("constant_view", {}).get("summary")
    mongo = t.get("pymongo_find", {}).get("summary")
    const_rps = _med(const["rps"]) if const else None
    mongo_text = _fmt(mongo["rps"]) if mongo and _med(mongo["rps"]) else "n/a"
    const_text = _fmt(const["rps"]) if const else "n/a"
    base_text = f"const view {const_text}; pymongo bucket find {mongo_text}"
    by_id = t.get("by_id", {}).get("summary")
    if by_id:
        rps = _med(by_id["rps"])
        pct = _pct(rps, const_rps)
        pct_text = f", {pct:.0f}% of const" if pct is not None else ", % of const n/a"
        out.append(("read", f"GET by id req/s @ {read['clients']} (p99 ms)",
                    f"{_fmt(by_id['rps'])} ({_fmt(by_id['p99_ms'], 1)}){pct_text}", base_text,
                    ">= 50% of const", _verdict(None if pct is None else pct >= 50)))  # fmt: skip
    lst = t.get("list_limit_100", {}).get("summary")
    if lst:
        out.append(("read", f"GET list?limit=100 req/s @ {read['clients']} (p99 ms)",
                    f"{_fmt(lst['rps'])} ({_fmt(lst['p99_ms'], 1)})", base_text,
                    "", "-"))  # fmt: skip
    return out


_GROWTH_NAMES = {
    "list_first": "list?limit=100 first page",
    "list_after": "list?limit=100 random after",
    "by_id": "GET by id",
    "constant_view": "constant view",
}


def _growth_rows(growth: dict[str, Any] | None, meta: dict[str, Any]) -> list[Row]:
    if not growth or not growth.get("by_size"):
        return []
    out: list[Row] = []
    steps = sorted(growth["by_size"].values(), key=lambda s: s["size"])
    clients = growth["clients"]
    for step in steps:
        t = step["targets"]
        const = t.get("constant_view", {}).get("summary")
        const_text = f"const view {_fmt(const['rps'])}" if const else "const view n/a"
        for name, label in _GROWTH_NAMES.items():
            if name == "constant_view" or name not in t:
                continue
            s = t[name]["summary"]
            errors = f", {s['errors']} errors" if s.get("errors") else ""
            out.append(("growth", f"{label} req/s (p99 ms) @ {step['todos']:,} todos",
                        f"{_fmt(s['rps'])} ({_fmt(s['p99_ms'], 1)}){errors}",
                        f"{const_text}; wrk {s['wrk_cpu_cores']:.3f} cores", "", "-"))  # fmt: skip
    ref_size = (meta.get("sizes") or {}).get("growth_walk_size")
    ref = next((s for s in steps if s["size"] == ref_size), steps[len(steps) // 2])
    lst = ref["targets"].get("list_first", {}).get("summary")
    if lst:
        rps, p99 = _med(lst["rps"]), _med(lst["p99_ms"])
        # Errors (503s included) count as requests in wrk's rate: a run with any is not met.
        ok = rps is not None and p99 is not None and rps >= 500 and p99 <= 100
        ok = ok and not lst.get("errors")
        label = f"list?limit=100 @ {clients} clients, {ref['todos']:,} todos: req/s / p99 ms"
        out.append(("growth", label,
                    f"{_fmt(lst['rps'])} / {_fmt(lst['p99_ms'], 1)}", "",
                    ">= 500 and p99 <= 100", _verdict(ok)))  # fmt: skip
    small, large = steps[0], steps[-1]
    a = _med(small["targets"].get("list_first", {}).get("summary", {}).get("rps"))
    b = _med(large["targets"].get("list_first", {}).get("summary", {}).get("rps"))
    if a and b and large is not small:
        label = f"list req/s {large['todos']:,} / {small['todos']:,} todos"
        out.append(("growth", label, f"{b / a:.2f}", f"{b:,.0f} / {a:,.0f}", ">= 0.80",
                    _verdict(b / a >= 0.8)))  # fmt: skip
    walk = ref.get("walk")
    if walk:
        check = walk["check"]
        label = f"walk ?limit={walk['limit']} @ {ref['todos']:,} todos: pass, pages/s"
        out.append(("growth", label,
                    f"{'pass' if walk['pass'] else 'FAIL'}, {walk['pages_per_s'] or 0:,.1f}",
                    f"{walk['status']}; {check['returned']:,}/{check['expected']:,} returned,"
                    f" {check['missing']} missing, {check['duplicates']} dup,"
                    f" {check['out_of_order']} out of order",
                    "every live todo once, in order", _verdict(walk["pass"])))  # fmt: skip
    return out


def _replay_rows(replay: dict[str, Any] | None) -> list[Row]:
    if not replay:
        return []
    out: list[Row] = []
    for events, data in sorted(replay.get("by_events", {}).items(), key=lambda kv: int(kv[0])):
        rebuild = data["rebuild"]["summary"]
        raw = data["raw_aiokafka"]["summary"]["events_per_s"]
        pct = rebuild.get("pct_of_raw")
        target, ok = "", None
        if int(events) == 500_000:
            med = _med(rebuild["events_per_s"]) or 0
            target, ok = ">= 10,000 (>= 6% raw)", med >= 10_000 and (pct or 0) >= 6
        pct_text = f" = {pct:.1f}% of raw" if pct is not None else ""
        bare = (data.get("bare_faust_agent") or {}).get("summary") or {}
        bare_text = f"; a bare Faust agent {_fmt(bare['events_per_s'])}" if bare else ""
        out.append(("replay", f"rebuild events/s from offset 0, {data['events']:,} events",
                    f"{_fmt(rebuild['events_per_s'])}{pct_text}",
                    f"raw aiokafka {_fmt(raw)}{bare_text}", target, _verdict(ok)))  # fmt: skip
    return out


def rows(results: dict[str, Any]) -> list[Row]:
    """Table rows: path, figure, measured, baseline, target, verdict."""
    out: list[Row] = []
    write = results.get("write")
    if write:
        for clients, data in write["by_clients"].items():
            api, base = data["api"]["summary"], data["baseline"]["summary"]
            rps_target, rps_ok = "", None
            if clients == "32":
                rps_target, rps_ok = ">= 1,000", (_med(api["rps"]) or 0) >= 1000
            out.append(("write", f"POST req/s, {clients} clients", _fmt(api["rps"]),
                        _fmt(base["rps"]), rps_target, _verdict(rps_ok)))  # fmt: skip
            keyed = (data.get("keyed") or {}).get("summary")
            if keyed:
                out.append(("write", f"POST with Idempotency-Key req/s, {clients} clients",
                            _fmt(keyed["rps"]), f"{_fmt(api['rps'])} (no key)", "",
                            _verdict(None)))  # fmt: skip
            p99_target, p99_ok = "", None
            if clients == "8":
                p99_target, p99_ok = "<= 100", (_med(api["p99_ms"]) or 1e9) <= 100
            out.append(("write", f"POST p50 / p99 ms, {clients} clients",
                        f"{_fmt(api['p50_ms'], 1)} / {_fmt(api['p99_ms'], 1)}",
                        f"{_fmt(base['p50_ms'], 1)} / {_fmt(base['p99_ms'], 1)}",
                        p99_target, _verdict(p99_ok)))  # fmt: skip
    out += _e2e_rows(results.get("e2e"))
    out += _read_rows(results.get("read"))
    out += _growth_rows(results.get("growth"), results.get("meta") or {})
    out += _replay_rows(results.get("replay"))
    memory = results.get("memory")
    if memory:
        idle = memory.get("idle") or {}
        after = memory.get("after_write") or {}
        for name in sorted(set(idle) | set(after)):
            i, a = idle.get(name, {}).get("rss_mib"), after.get(name, {}).get("rss_mib")
            out.append(("memory", f"RSS MiB {name} (idle -> after write)",
                        f"{i if i is not None else '-'} -> {a if a is not None else '-'}",
                        "", "reported", "-"))  # fmt: skip
    return out


def table(results: dict[str, Any]) -> str:
    """The table as aligned plain text (also valid Markdown)."""
    header: Row = ("path", "figure", "todo-eda median [min-max]", "baseline", "target", "")
    body = rows(results)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(r: Row) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in body)])
