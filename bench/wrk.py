"""Closed-loop HTTP load with wrk (Debian's package), installed on first use when missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.procs import GeneratorError, run_process
from bench.stats import CURVE_GRID

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ',
    summary.requests, summary.duration, summary.bytes))
  io.write(string.format('"errors": {"connect": %d, "read": %d, "write": %d, ',
    e.connect, e.read, e.write))
  io.write(string.format('"status": %d, "timeout": %d}, ', e.status, e.timeout))
  io.write(string.format('"mean_us": %f, "max_us": %d, "curve_us": [', latency.mean, latency.max))
  local grid = {__GRID__}
  for i, p in ipairs(grid) do
    if i > 1 then io.write(", ") end
    local v = latency.max
    if p < 100 then v = latency:percentile(p) end
    if p == 0 then v = latency.min end
    io.write(string.format("[%s, %d]", tostring(p), v))
  end
  io.write("]}\\n")
end
"""

POST_JSON = """
wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
"""

# A key no earlier run used: the run's start time, the wrk thread and a per-thread counter.
KEYED = """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
request = function()
  n = n + 1
  wrk.headers["Idempotency-Key"] = string.format("bench-%s-%d-%d", run_started, tid, n)
  return wrk.format()
end
"""

GET_BY_ID = """
local ids = {IDS}
local prefix = "{PREFIX}"
math.randomseed(os.time())
request = function()
  return wrk.format("GET", prefix .. ids[math.random(#ids)] .. "/")
end
"""

LIST_AFTER = """
local low, high = {LOW}, {HIGH}
local prefix = "{PREFIX}?limit={LIMIT}&after="
math.randomseed(os.time())
request = function()
  return wrk.format("GET", prefix .. math.random(low, high))
end
"""


def ensure_wrk() -> str:
    """Path of wrk, installing Debian's package (as root) when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise GeneratorError("wrk is missing: install Debian's package `wrk` (apt-get install wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, capture_output=True
    )
    found = shutil.which("wrk")
    if not found:
        raise GeneratorError("apt-get installed wrk but it is not on PATH")
    return found


AUTHORIZATION = """
wrk.headers["Authorization"] = "Bearer {TOKEN}"
"""


def authorized(lua: str, token: str) -> str:
    """`lua` with every request sending `Authorization: Bearer <token>` (wrk.format uses it too)."""
    if not token.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise GeneratorError("the access token is not a JWT (base64url parts and dots)")
    return AUTHORIZATION.replace("{TOKEN}", token) + lua


def script(body: str) -> str:
    """A wrk Lua script: `body` plus the `done` hook that prints the result as JSON."""
    grid = ", ".join(str(p) for p in CURVE_GRID)
    return body + _DONE.replace("__GRID__", grid)


def _post_json(payload: dict[str, Any]) -> str:
    """Lua making every request a POST of `payload`."""
    return POST_JSON.replace("{BODY}", json.dumps(payload).replace("'", "\\'"))


def post_json_script(payload: dict[str, Any]) -> str:
    """POST the same JSON body on every request."""
    return script(_post_json(payload))


def post_json_keyed_script(payload: dict[str, Any], run_started: int) -> str:
    """POST the same JSON body with a new Idempotency-Key on every request."""
    return script(_post_json(payload) + f'run_started = "{int(run_started)}"\n' + KEYED)


def get_by_id_script(path_prefix: str, ids: Sequence[int]) -> str:
    """GET `path_prefix<id>/` for ids drawn at random from `ids`."""
    lua_ids = "{" + ", ".join(str(int(i)) for i in ids) + "}"
    return script(GET_BY_ID.replace("{IDS}", lua_ids).replace("{PREFIX}", path_prefix))


def list_after_script(path: str, low: int, high: int, limit: int) -> str:
    """GET `path?limit=<limit>&after=<id>` for ids drawn uniformly from [low, high]."""
    body = LIST_AFTER.replace("{LOW}", str(int(low))).replace("{HIGH}", str(int(high)))
    return script(body.replace("{PREFIX}", path).replace("{LIMIT}", str(int(limit))))


def run_wrk(
    url: str, *, connections: int, duration_s: float, lua: str, threads: int = 1
) -> tuple[dict[str, Any], dict[str, float]]:
    """Run wrk closed-loop; return requests/s, errors, latency summary (ms) and wrk's own CPU."""
    binary = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        path = Path(tmp) / "script.lua"
        path.write_text(lua)
        argv = [
            binary, f"-t{min(threads, connections)}", f"-c{connections}",
            f"-d{max(1, round(duration_s))}s", "--timeout", "10s", "-s", str(path), url,
        ]  # fmt: skip
        run = run_process(argv, timeout=duration_s + 60)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    if not lines:
        raise GeneratorError(f"wrk printed no result: {run.stdout[-2000:]} {run.stderr[-2000:]}")
    raw = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    duration = raw["duration_us"] / 1e6
    curve = [[p, v / 1000.0] for p, v in raw["curve_us"]]
    by_pct = dict((p, v) for p, v in curve)
    errors = raw["errors"]
    result = {
        "requests": raw["requests"],
        "duration_s": duration,
        "rps": raw["requests"] / duration if duration else 0.0,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "latency": {
            "count": raw["requests"],
            "mean_ms": raw["mean_us"] / 1000.0,
            "p50_ms": by_pct.get(50.0),
            "p90_ms": by_pct.get(90.0),
            "p95_ms": by_pct.get(95.0),
            "p99_ms": by_pct.get(99.0),
            "p999_ms": by_pct.get(99.9),
            "max_ms": raw["max_us"] / 1000.0,
            "curve_ms": curve,
        },
    }
    return result, run.cpu_report()
