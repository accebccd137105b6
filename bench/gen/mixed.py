"""Mixed-load generator: open-loop creates, updates and deletes at a fixed rate, with reads.

Writes are scheduled at t0 + i/rate whatever the answers do (open loop). Each write's kind is
drawn from the configured mix; updates and deletes act on todos this run created and has not
deleted. Reads (by id of a created todo, and the list's first page) run at their own rate.
With `retry_for_s` a refused write (503, a 409 for a create whose key is still being answered,
a connection error or a timeout) is sent again after the answer's Retry-After; without it, it is
counted and dropped. A 503 is also counted under each dependency its error envelope names (the
keys of `errors`), with the time of the last.
Scheduling stops after `duration_s` or as soon as `stop_file` exists. Every accepted write is
appended to `accepted_log` (one JSON line, flushed) so the harness can follow them during the
run. With `idempotency_keys` each create carries an Idempotency-Key (its title), as a retrying
client should.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from pathlib import Path
from typing import IO, Any

import aiohttp
import orjson

from bench.gen.common import emit, now, read_config
from bench.stats import latency_summary
from bench.users import TOKEN_VARIABLE, BenchUser, token_from_env

USERNAME_VARIABLE = "BENCH_USERNAME"
PASSWORD_VARIABLE = "BENCH_PASSWORD"  # noqa: S105 (a variable name, not a secret)
USER_ID_VARIABLE = "BENCH_USER_ID"
OPERATIONS = ("create", "update", "delete")
# Where a 503 is counted when its body names no dependency (not JSON, not the envelope).
UNKNOWN_DEPENDENCY = "unknown"


def generator_env(user: BenchUser) -> dict[str, str]:
    """The environment of a mixed generator acting as `user`: a token, and how to sign in again."""
    return {
        **user.child_env(),
        USERNAME_VARIABLE: user.username,
        PASSWORD_VARIABLE: user.password,
        USER_ID_VARIABLE: str(user.user_id),
    }


def pick_operation(rng: random.Random, mix: tuple[float, float, float], live: int) -> str:
    """Draw a write kind from `mix` (create/update/delete weights); create while none is live."""
    if live == 0:
        return "create"
    return rng.choices(OPERATIONS, weights=mix)[0]


def retry_after_s(header: str | None, default: float = 1.0) -> float:
    """Seconds a Retry-After header asks for (integer seconds form), else `default`."""
    try:
        return max(0.0, float(header)) if header is not None else default
    except ValueError:
        return default


def refusing_dependencies(payload: bytes) -> list[str]:
    """The dependencies a 503's error envelope names in `errors`, else [UNKNOWN_DEPENDENCY]."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return [UNKNOWN_DEPENDENCY]
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict) or not errors:
        return [UNKNOWN_DEPENDENCY]
    return sorted(str(name) for name in errors)


class Credentials:
    """The bench user's token, renewed in a thread before it expires (runs outlive a token)."""

    def __init__(self, write_url: str) -> None:
        username = os.environ.get(USERNAME_VARIABLE)
        password = os.environ.get(PASSWORD_VARIABLE)
        self._user: BenchUser | None = None
        self._token = token_from_env()
        if username and password:
            self._user = BenchUser(
                write_url=write_url.split("/api/")[0],
                username=username,
                user_id=int(os.environ.get(USER_ID_VARIABLE, "0")),
                password=password,
                access=self._token,
            )

    def headers(self) -> dict[str, str]:
        """Headers of every request."""
        return {"Content-Type": "application/json", "Authorization": f"Bearer {self._token}"}

    async def keep_fresh(self) -> None:
        """Renew the token every 30 s if it is close to expiry (sign-in off the event loop)."""
        while self._user is not None:
            await asyncio.sleep(30)
            try:
                self._token = await asyncio.to_thread(self._user.token)
            except Exception as exc:  # the write API is down: keep the token, try again later
                print(f"token renewal failed: {exc}", file=sys.stderr)


# The outcomes of a write that was not a 202, as `failures` records them.
REFUSED, IN_FLIGHT, TIMED_OUT, CONNECTION_FAILED = "503", "409", "timeout", "connection_error"
FAILURE_OUTCOMES = (REFUSED, IN_FLIGHT, TIMED_OUT, CONNECTION_FAILED)


class Run:
    """The state of one run: counts, the live todos, the accepted-writes log."""

    def __init__(self, cfg: dict[str, Any], log: IO[bytes] | None) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.get("seed", 14))  # noqa: S311 (a load mix, not a secret)
        self.live: list[int] = []
        self.live_set: set[int] = set()
        self.counts: dict[str, int] = {
            "accepted": 0,
            "refused_503": 0,
            "in_flight_409": 0,
            "failed_other_status": 0,
            "connection_errors": 0,
            "timeouts": 0,
            "retries": 0,
            "given_up": 0,
        }
        self.by_operation = dict.fromkeys(OPERATIONS, 0)
        self.reads = {"by_id_200": 0, "by_id_404": 0, "list_200": 0, "failed": 0, "errors": 0}
        self.refusal_times: list[float] = []  # wall-clock s of each refusal (503/error)
        self.refused_by_dependency: dict[str, int] = {}
        self.last_refusal_by_dependency: dict[str, float] = {}  # wall-clock s
        self.accept_times: list[float] = []  # wall-clock s of each 202
        # (sent, answered, outcome) in wall-clock s of each write that was not a 202, the
        # outcome one of FAILURE_OUTCOMES; with keep_times only.
        self.failures: list[tuple[float, float, str]] = []
        self.write_latency: list[float] = []
        self.lateness: list[float] = []
        self.status_counts: dict[str, int] = {}
        self._log = log

    def take_target(self, operation: str) -> int | None:
        """A live todo for an update (kept) or a delete (removed from the live set)."""
        if not self.live:
            return None
        index = self.rng.randrange(len(self.live))
        todo_id = self.live[index]
        if operation == "delete":
            self.live[index] = self.live[-1]
            self.live.pop()
            self.live_set.discard(todo_id)
        return todo_id

    def refused(self, payload: bytes, at: float) -> None:
        """Count a 503 under each dependency its body names, at wall-clock time `at`."""
        self.counts["refused_503"] += 1
        for name in refusing_dependencies(payload):
            self.refused_by_dependency[name] = self.refused_by_dependency.get(name, 0) + 1
            self.last_refusal_by_dependency[name] = at

    def accepted(self, operation: str, todo_id: int, title: str, at: float) -> None:
        """Count a 202 and log it for the harness."""
        self.counts["accepted"] += 1
        self.by_operation[operation] += 1
        self.accept_times.append(at)
        if operation == "create" and todo_id not in self.live_set:
            self.live.append(todo_id)
            self.live_set.add(todo_id)
        if self._log is not None:
            line = {"id": todo_id, "op": operation, "title": title, "t": round(at, 3)}
            self._log.write(orjson.dumps(line) + b"\n")
            self._log.flush()


async def _write(run: Run, http: aiohttp.ClientSession, creds: Credentials, i: int) -> None:
    cfg = run.cfg
    base = cfg["write_url"].rstrip("/")
    operation = pick_operation(run.rng, tuple(cfg["mix"]), len(run.live))
    title = f"{cfg.get('title_prefix', 'mixed')}-{i}"
    todo_id = None if operation == "create" else run.take_target(operation)
    if operation != "create" and todo_id is None:
        operation = "create"
    give_up_at = now() + float(cfg.get("retry_for_s", 0))
    while True:
        start, sent_at = now(), time.time()
        retry_in, outcome = 1.0, ""
        try:
            if operation == "create":
                body = {"title": title, "description": "mixed load", "completed": False}
                headers = creds.headers()
                if cfg.get("idempotency_keys"):
                    # A retry of a create whose 202 was lost then replays it, never a second todo.
                    headers["Idempotency-Key"] = title
                request = http.post(base + "/", data=orjson.dumps(body), headers=headers)
            elif operation == "update":
                body = {"completed": bool(i % 2), "title": title}
                request = http.patch(
                    f"{base}/{todo_id}/", data=orjson.dumps(body), headers=creds.headers()
                )
            else:
                request = http.delete(f"{base}/{todo_id}/", headers=creds.headers())
            async with request as resp:
                payload = await resp.read()
                status = resp.status
                retry_in = retry_after_s(resp.headers.get("Retry-After"))
        except TimeoutError:
            run.counts["timeouts"] += 1
            status, outcome = -1, TIMED_OUT
        except aiohttp.ClientError:
            run.counts["connection_errors"] += 1
            status, outcome = -1, CONNECTION_FAILED
        at = time.time()
        run.status_counts[str(status)] = run.status_counts.get(str(status), 0) + 1
        if status == 202:
            run.write_latency.append(now() - start)
            data = orjson.loads(payload)["data"]
            run.accepted(operation, int(data.get("id") or todo_id or 0), title, at)
            return
        if status == 503:
            run.refused(payload, at)
            outcome = REFUSED
        elif status == 409:
            # An earlier attempt of this create (timed out here) is still being answered.
            run.counts["in_flight_409"] += 1
            outcome = IN_FLIGHT
        elif status != -1:
            # Any other 4xx/5xx is not retried: it would fail the same way again.
            run.counts["failed_other_status"] += 1
            return
        run.refusal_times.append(at)
        if cfg.get("keep_times"):
            run.failures.append((sent_at, at, outcome))
        if now() + retry_in > give_up_at:
            if cfg.get("retry_for_s", 0):
                run.counts["given_up"] += 1
            return
        run.counts["retries"] += 1
        await asyncio.sleep(retry_in)


async def _read(run: Run, http: aiohttp.ClientSession, creds: Credentials, i: int) -> None:
    read_url = run.cfg["read_url"].rstrip("/")
    if i % 2 == 0 and run.live:
        url, kind = f"{read_url}/api/todos/{run.rng.choice(run.live)}/", "by_id"
    else:
        url, kind = f"{read_url}/api/todos/?limit=100", "list"
    try:
        async with http.get(url, headers=creds.headers()) as resp:
            await resp.read()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError):
        run.reads["errors"] += 1
        return
    if status == 200:
        run.reads[f"{kind}_200"] += 1
    elif status == 404 and kind == "by_id":  # created but not projected yet, or deleted
        run.reads["by_id_404"] += 1
    else:
        run.reads["failed"] += 1


async def _paced(
    rate: float, duration_s: float, stop_file: Path | None, action: Any, lateness: list[float]
) -> tuple[int, float]:
    """Start `action(i)` at t0 + i/rate until the duration ends or the stop file appears."""
    tasks: set[asyncio.Task[None]] = set()
    t0 = now()
    i = 0
    while rate > 0:
        offset_s = i / rate
        t_sched = t0 + offset_s
        # A stat of a local file every 10 writes: cheap, and only this generator's loop waits.
        stopping = i % 10 == 0 and stop_file is not None and stop_file.exists()  # noqa: ASYNC240
        # The offset, not t_sched - t0: that difference rounds below it for some t0.
        if offset_s >= duration_s or stopping:
            break
        delay = t_sched - now()
        if delay > 0:
            await asyncio.sleep(delay)
        lateness.append(now() - t_sched)
        task = asyncio.create_task(action(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    sent_s = now() - t0
    if tasks:
        await asyncio.wait(tasks)
    return i, sent_s


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Drive the writes and the reads; return the counts."""
    log_path = cfg.get("accepted_log")
    stop_file = Path(cfg["stop_file"]) if cfg.get("stop_file") else None
    creds = Credentials(cfg["write_url"])
    connector = aiohttp.TCPConnector(limit=cfg.get("connections", 256))
    timeout = aiohttp.ClientTimeout(total=float(cfg.get("request_timeout_s", 30)))
    # Opened once before the load starts; each line's write is a small local append.
    log = Path(log_path).open("ab") if log_path else None  # noqa: SIM115, ASYNC230
    run_state = Run(cfg, log)
    read_lateness: list[float] = []
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            refresher = asyncio.create_task(creds.keep_fresh())
            writes = _paced(
                float(cfg["rate"]),
                float(cfg["duration_s"]),
                stop_file,
                lambda i: _write(run_state, http, creds, i),
                run_state.lateness,
            )
            reads = _paced(
                float(cfg.get("read_rate", 0)),
                float(cfg["duration_s"]),
                stop_file,
                lambda i: _read(run_state, http, creds, i),
                read_lateness,
            )
            (scheduled, sent_s), (read_count, _) = await asyncio.gather(writes, reads)
            refresher.cancel()
    finally:
        if log is not None:
            log.close()
    lateness = sorted(run_state.lateness)
    return {
        "rate": cfg["rate"],
        "scheduled": scheduled,
        "send_duration_s": round(sent_s, 3),
        "achieved_rate": round(scheduled / sent_s, 2) if sent_s > 0 else 0.0,
        **run_state.counts,
        "by_operation": run_state.by_operation,
        "status_counts": run_state.status_counts,
        "reads": {"scheduled": read_count, **run_state.reads},
        "write_latency": latency_summary(run_state.write_latency),
        "schedule_lateness_p99_ms": round(lateness[int(0.99 * (len(lateness) - 1))] * 1000, 2)
        if lateness
        else None,
        "refused_by_dependency": run_state.refused_by_dependency,
        "last_refusal_by_dependency": {
            name: round(at, 3) for name, at in run_state.last_refusal_by_dependency.items()
        },
        "refusal_times": run_state.refusal_times if cfg.get("keep_times") else [],
        "accept_times": run_state.accept_times if cfg.get("keep_times") else [],
        "failures": run_state.failures,
        "wall_s": round(now() - _STARTED, 3),
    }


_STARTED = now()


def main() -> None:
    """Run and print the result."""
    if not os.environ.get(TOKEN_VARIABLE):
        raise SystemExit(f"{TOKEN_VARIABLE} is not set")
    emit(asyncio.run(run(read_config())))


if __name__ == "__main__":
    main()
