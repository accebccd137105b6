"""A worker killed with SIGKILL mid-burst loses nothing and doubles nothing."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.polling import wait_for

BURST = 1000


def _pg_todos(pipeline):
    with pipeline.pg() as conn:
        rows = conn.execute(
            "SELECT id, title, description, completed, created_at, updated_at FROM todos"
        ).fetchall()
    return {
        r[0]: {
            "id": r[0],
            "title": r[1],
            "description": r[2],
            "completed": r[3],
            "created_at": r[4].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "updated_at": r[5].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        for r in rows
    }


def _mongo_todos(pipeline):
    return pipeline.mongo_live_todos()


@pytest.mark.disruptive
@pytest.mark.slow
def test_sigkill_mid_burst_leaves_postgres_mongo_and_the_table_identical(pipeline, stack):
    done = []
    lock = threading.Lock()
    killed = threading.Event()

    def write(n: int) -> None:
        todo_id = pipeline.create(f"burst {n}", description=f"#{n}")
        if n % 4 == 0:
            pipeline.write("PATCH", f"/api/todos/{todo_id}/", {"completed": True})
        if n % 10 == 0:
            pipeline.write("DELETE", f"/api/todos/{todo_id}/")
        with lock:
            done.append(todo_id)
            if len(done) == BURST // 3 and not killed.is_set():
                killed.set()
                stack.kill("streams", signal.SIGKILL)

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(write, range(BURST)))
        assert killed.is_set()
        stack.start("streams")
        stack.wait_ready("streams")

        try:
            pg, mongo = wait_for(
                _settled(pipeline, done),
                # generous: FerretDB writes one document at a time on a shared 2-core machine
                timeout=300,
                interval=1.0,
                message="PostgreSQL and MongoDB identical after the crash",
            )
        except Exception:
            _print_diagnostics(pipeline, stack)
            raise
        assert len([n for n in range(BURST) if n % 10]) <= len(set(done) & set(pg))
        assert pg == mongo
        # The list is the pipeline user's todos (MongoDB holds every user's).
        listed = {t["id"]: t for t in pipeline.list_all()}
        assert listed == {i: mongo[i] for i in pipeline.pg_ids()}
        for todo_id in done:
            response = pipeline.read(f"/api/todos/{todo_id}/")
            if todo_id in pg:
                assert response.status_code == 200 and response.json() == pg[todo_id]
            else:
                assert response.status_code == 404
    finally:
        stack.restore()


def _settled(pipeline, done):
    """Return a probe: every burst command applied, and MongoDB equal to PostgreSQL."""

    def probe():
        with pipeline.pg() as conn:
            (applied,) = conn.execute(
                "SELECT count(*) FROM todo_commands WHERE todo_id = ANY(%s)", (done,)
            ).fetchone()
        expected = sum(1 + (n % 4 == 0) + (n % 10 == 0) for n in range(BURST))
        if applied < expected:
            raise AssertionError(f"{applied}/{expected} burst commands applied")
        pg, mongo = _pg_todos(pipeline), _mongo_todos(pipeline)
        if pg != mongo:
            differ = {i for i in set(pg) | set(mongo) if pg.get(i) != mongo.get(i)}
            raise AssertionError(f"{len(differ)} todos differ, e.g. {sorted(differ)[:5]}")
        return pg, mongo

    return probe


def _print_diagnostics(pipeline, stack):
    """Print what a failed run needs for a diagnosis: missing commands and the worker's log."""
    with pipeline.pg() as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM todo_commands GROUP BY status ORDER BY status"
        ).fetchall()
    print("todo_commands by status:", rows)
    log = stack.state_dir / "logs" / "streams.log"
    markers = ("Holding", "Reading", "skipped", "dead-letter", "Traceback", "ERROR", "generation")
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            if any(marker in line for marker in markers):
                print(line[:300])
