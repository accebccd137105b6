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
            p99_target, p99_ok = "", None
            if clients == "8":
                p99_target, p99_ok = "<= 100", (_med(api["p99_ms"]) or 1e9) <= 100
            out.append(("write", f"POST p50 / p99 ms, {clients} clients",
                        f"{_fmt(api['p50_ms'], 1)} / {_fmt(api['p99_ms'], 1)}",
                        f"{_fmt(base['p50_ms'], 1)} / {_fmt(base['p99_ms'], 1)}",
                        p99_target, _verdict(p99_ok)))  # fmt: skip
    e2e = results.get("e2e")
    if e2e:
        base = e2e["baseline"]["summary"]
        base_text = (f"{_fmt(base['sum_p50_ms'], 0)} / {_fmt(base['sum_p95_ms'], 0)}"
                     f" / {_fmt(base['sum_p99_ms'], 0)}")  # fmt: skip
        for rate, data in e2e["by_rate"].items():
            s = data["summary"]
            target, ok = "", None
            if rate == "200":
                target, ok = "p99 <= 250", (_med(s["p99_ms"]) or 1e9) <= 250
            steady = "" if s["steady"] else " (unsteady)"
            out.append(("e2e", f"202->readable p50/p95/p99 ms @ {rate}/s{steady}",
                        f"{_fmt(s['p50_ms'])} / {_fmt(s['p95_ms'])} / {_fmt(s['p99_ms'])}",
                        base_text, target, _verdict(ok)))  # fmt: skip
        best = e2e.get("max_steady_rate")
        bound = e2e.get("max_steady_rate_bound")
        out.append(("e2e", "highest steady rate, writes/s",
                    f"{best or 0:,}" + (f" (< {bound:,})" if bound else ""), "",
                    ">= 1,000", _verdict((best or 0) >= 1000)))  # fmt: skip
    read = results.get("read")
    if read:
        t = read["targets"]
        const = t.get("constant_view", {}).get("summary")
        mongo = t.get("pymongo_find", {}).get("summary")
        base_text = (f"const view {_fmt(const['rps']) if const else 'n/a'};"
                     f" pymongo {_fmt(mongo['rps']) if mongo else 'n/a'}")  # fmt: skip
        by_id = t.get("by_id", {}).get("summary")
        if by_id:
            rps = _med(by_id["rps"]) or 0
            ok = rps >= 4000 and (const is None or rps >= 0.5 * (_med(const["rps"]) or 0))
            out.append(("read", f"GET by id req/s @ {read['clients']} (p99 ms)",
                        f"{_fmt(by_id['rps'])} ({_fmt(by_id['p99_ms'], 1)})", base_text,
                        ">= 4,000, >= 50% const", _verdict(ok)))  # fmt: skip
        lst = t.get("list_limit_100", {}).get("summary")
        if lst:
            out.append(("read", f"GET list?limit=100 req/s @ {read['clients']} (p99 ms)",
                        f"{_fmt(lst['rps'])} ({_fmt(lst['p99_ms'], 1)})", base_text,
                        ">= 500", _verdict((_med(lst["rps"]) or 0) >= 500)))  # fmt: skip
    replay = results.get("replay")
    if replay:
        rebuild = replay.get("rebuild", {})
        raw = replay["raw_aiokafka"]["summary"]["events_per_s"]
        measured = (
            "not measured" if "skipped" in rebuild else _fmt(rebuild["summary"]["events_per_s"])
        )
        ok = (
            None
            if "skipped" in rebuild
            else (_med(rebuild["summary"]["events_per_s"]) or 0) >= 10_000
        )
        out.append(("replay", f"rebuild events/s ({replay['events']:,} events)", measured,
                    f"raw aiokafka {_fmt(raw)}", ">= 10,000", _verdict(ok)))  # fmt: skip
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
