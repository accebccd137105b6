"""After a broker outage the worker catches up: every command applied, the read side equal."""

from __future__ import annotations

import pytest

from tests.support.polling import wait_for

BEFORE, AFTER = 100, 300


def _created(pipeline, title: str) -> int | None:
    """POST a todo; None while the write API still answers 503 (Kafka not back yet)."""
    response = pipeline.http.post(
        f"{pipeline.cud_url}/api/todos/", json={"title": title}, timeout=10
    )
    if response.status_code == 503:
        return None
    assert response.status_code == 202, response.text
    return int(response.json()["data"]["id"])


@pytest.mark.disruptive(stops="kafka")
def test_the_worker_applies_and_projects_everything_written_around_a_broker_outage(pipeline, stack):
    ids = [pipeline.create(f"before the outage {n}") for n in range(BEFORE)]
    stack.stop("kafka")
    try:
        # The write API's own Kafka check, which also lets the outage last a few seconds.
        assert _created(pipeline, "during the outage") is None
    finally:
        stack.start("kafka")
    for n in range(AFTER):
        ids.append(
            wait_for(
                lambda n=n: _created(pipeline, f"after the outage {n}"),
                timeout=90,
                message="writes accepted again",
            )
        )
        if n % 3 == 0:
            pipeline.write("PATCH", f"/api/todos/{ids[-1]}/", {"completed": True})

    def projected():
        with pipeline.pg() as conn:
            (applied,) = conn.execute(
                "SELECT count(*) FROM todos WHERE id = ANY(%s)", (ids,)
            ).fetchone()
            (completed,) = conn.execute(
                "SELECT count(*) FROM todos WHERE id = ANY(%s) AND completed", (ids,)
            ).fetchone()
        live = pipeline.mongo_live_todos()
        documents = sum(1 for i in ids if i in live)
        done = sum(1 for i in ids if i in live and live[i]["completed"])
        counts = (applied, completed, documents, done)
        patched = len(range(0, AFTER, 3))
        expected = (len(ids), patched, len(ids), patched)
        if counts != expected:
            raise AssertionError(f"(rows, completed, documents, completed) {counts} != {expected}")
        return counts

    # A partition the worker stopped fetching would leave this short for good; the consumer
    # reads such a partition again after 30 s, so the deadline leaves room for that.
    wait_for(projected, timeout=180, interval=1.0, message="everything applied and projected")
    for todo_id in ids[::25]:
        assert pipeline.read(f"/api/todos/{todo_id}/").status_code == 200
