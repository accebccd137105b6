"""Sizes of a benchmark run: full by default, tiny with --smoke; each one an env var and a flag."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PATHS = ("write", "e2e", "read", "growth", "replay", "memory")
# Run only when named in --paths: `metrics` restarts the write API and the worker; `soak` runs
# for an hour by default; `outages` stops services.
OPT_IN_PATHS = ("metrics", "soak", "outages")
OUTAGE_FAULTS = ("kafka", "connect", "postgres", "ferretdb", "kafka+postgres")


@dataclass(frozen=True)
class Sizes:
    """How long and how hard each path is driven. Env var: BENCH_<NAME upper-cased>."""

    runs: int = 3
    write_clients: tuple[int, ...] = (1, 8, 32)
    write_duration_s: float = 10.0
    write_warmup_s: float = 2.0
    e2e_rates: tuple[int, ...] = (50, 200, 1000)
    e2e_search_rates: tuple[int, ...] = (100, 500, 750, 1500, 2000, 3000)
    e2e_duration_s: float = 20.0
    # Every write is timed from the worker's table changelog; 1 in `e2e_sample_every` of them
    # (at most `e2e_sample_max_rate` a second) is also polled over HTTP, with backoff, to check it.
    e2e_sample_every: int = 50
    e2e_sample_max_rate: float = 5.0
    e2e_sample_first_poll_s: float = 0.01
    e2e_sample_max_poll_s: float = 0.25
    e2e_probe_max_rps: float = 20.0  # all the probe's HTTP polls together
    e2e_visible_timeout_s: float = 10.0
    e2e_p99_limit_ms: float = 1000.0
    stage_samples: int = 100
    read_clients: int = 32
    read_duration_s: float = 10.0
    read_ids: int = 2000
    growth_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    growth_walk_size: int = 100_000  # the size whose whole list is walked page by page
    growth_walk_limit: int = 100
    growth_walk_timeout_s: float = 300.0
    growth_seed_timeout_s: float = 1800.0
    replay_events: tuple[int, ...] = (100_000, 500_000)
    replay_timeout_s: float = 600.0
    # The metrics path: runs of each setting, alternated on/off; one write and one e2e figure each.
    metrics_runs: int = 3
    # The settings' order within each pair of runs (off,on checks for an effect of position).
    metrics_order: tuple[str, ...] = ("on", "off")
    # Before the first run, the whole stack is driven this long (write, then e2e), unmeasured,
    # so the first setting does not pay alone for cold caches and the JVMs' warm-up.
    metrics_stack_warmup_s: float = 30.0
    metrics_write_clients: int = 8
    metrics_write_duration_s: float = 10.0
    metrics_e2e_rate: int = 50
    metrics_e2e_duration_s: float = 20.0
    # The soak path: steady mixed writes (create/update/delete weights) with reads, sampled.
    soak_minutes: float = 60.0
    soak_warmup_minutes: float = 10.0  # at most a third of the run
    soak_sample_s: float = 10.0
    soak_rate: float = 100.0
    # Creates and deletes in equal shares: the live set stays near the seeded size, so growth
    # after warm-up is a leak, not data (the growth path measures cost against size).
    soak_mix: tuple[int, ...] = (40, 20, 40)
    soak_seed_todos: int = 50_000
    soak_read_rate: float = 20.0
    # The outages path: each fault for each length, creates at outage_rate/s throughout; a fault
    # written `name:seconds` (kafka:60) is run at that one length instead.
    outage_faults: tuple[str, ...] = OUTAGE_FAULTS
    outage_seconds: tuple[int, ...] = (10, 60)
    outage_rate: float = 20.0
    outage_before_s: float = 15.0
    outage_after_s: float = 30.0
    outage_converge_timeout_s: float = 600.0
    quiesce_timeout_s: float = 180.0
    constant_path: str = "/bench/constant"
    pipeline_group: str = "todo-eda-streams"  # the worker's Faust app id = its consumer group
    paths: tuple[str, ...] = PATHS


SMOKE = Sizes(
    runs=1,
    write_clients=(1, 4),
    write_duration_s=1.0,
    write_warmup_s=0.0,
    e2e_rates=(10,),
    e2e_search_rates=(),
    e2e_duration_s=2.0,
    e2e_sample_every=5,
    stage_samples=3,
    read_clients=4,
    read_duration_s=1.0,
    read_ids=20,
    growth_sizes=(40, 80, 160),
    growth_walk_size=80,
    growth_walk_limit=10,
    growth_walk_timeout_s=60.0,
    growth_seed_timeout_s=120.0,
    replay_events=(50,),
    replay_timeout_s=120.0,
    metrics_runs=1,
    metrics_stack_warmup_s=1.0,
    metrics_write_clients=4,
    metrics_write_duration_s=1.0,
    metrics_e2e_rate=10,
    metrics_e2e_duration_s=2.0,
    soak_minutes=1.0,
    soak_warmup_minutes=0.2,
    soak_sample_s=5.0,
    soak_rate=20.0,
    soak_read_rate=5.0,
    soak_seed_todos=100,
    outage_faults=("ferretdb",),
    outage_seconds=(5,),
    outage_before_s=3.0,
    outage_after_s=5.0,
    outage_converge_timeout_s=120.0,
    quiesce_timeout_s=60.0,
)


@dataclass(frozen=True)
class Options:
    """Everything the command line decides."""

    sizes: Sizes
    stack: str = "isolated"
    out_dir: Path = Path("bench/results")
    smoke: bool = False
    command: str = field(default="python -m bench")


def _parse_value(kind: object, raw: str) -> object:
    text = str(kind)
    if "tuple[int" in text:
        return tuple(int(x) for x in raw.replace(",", " ").split())
    if "tuple[str" in text:
        return tuple(x for x in raw.replace(",", " ").split())
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    return raw


def parse(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> Options:
    """Options from flags, then BENCH_* variables, then the defaults (full or --smoke)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (the test suite's run)")
    parser.add_argument(
        "--stack",
        choices=("isolated", "running"),
        default=env.get("BENCH_STACK", "isolated"),
        help="start an isolated stack (default) or use the one `make up` runs",
    )
    parser.add_argument("--out", default=env.get("BENCH_OUT", "bench/results"), type=Path)
    for f in fields(Sizes):
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            help=f"env BENCH_{f.name.upper()}",
        )
    args = parser.parse_args(list(argv))
    smoke = args.smoke or env.get("BENCH_SMOKE", "") in ("1", "true", "yes")
    sizes = SMOKE if smoke else Sizes()
    changes: dict[str, object] = {}
    for f in fields(Sizes):
        raw = getattr(args, f.name)
        if raw is None:
            raw = env.get(f"BENCH_{f.name.upper()}")
        if raw is not None:
            changes[f.name] = _parse_value(f.type, raw)
    sizes = replace(sizes, **changes)  # type: ignore[arg-type]
    unknown = set(sizes.paths) - set(PATHS) - set(OPT_IN_PATHS)
    if unknown:
        choices = ", ".join((*PATHS, *OPT_IN_PATHS))
        parser.error(f"unknown paths {sorted(unknown)}; choose from {choices}")
    if sorted(sizes.metrics_order) != ["off", "on"]:
        parser.error(f"--metrics-order must name on and off once each, not {sizes.metrics_order}")
    unknown_faults = {f.split(":")[0] for f in sizes.outage_faults} - set(OUTAGE_FAULTS)
    if unknown_faults:
        parser.error(
            f"unknown faults {sorted(unknown_faults)}; choose from {', '.join(OUTAGE_FAULTS)}"
        )
    if len(sizes.soak_mix) != 3:
        parser.error(f"--soak-mix takes three weights (create,update,delete), not {sizes.soak_mix}")
    command = "python -m bench " + " ".join(argv) if argv else "python -m bench"
    return Options(sizes=sizes, stack=args.stack, out_dir=args.out, smoke=smoke, command=command)
