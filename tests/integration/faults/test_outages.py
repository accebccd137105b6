"""An outage of one dependency (or Kafka and PostgreSQL together), with writes around it.

A client writes creates, updates and deletes without pause from before the outage until after
it, retrying every 503 (the write API's answer while Kafka or PostgreSQL is away). Once the
dependency is back, everything the write API accepted must reach PostgreSQL and MongoDB once:
the rows and documents equal what was accepted, no duplicate, each version one per update.
The time from the dependency's return to that state is printed (run with `-s`) and asserted
only against a bound that catches a hang; the benchmark measures long outages.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from compose.launcher import IsolatedStack
from contracts.records import format_time
from tests.integration.conftest import needs
from tests.support.pipeline import Pipeline
from tests.support.polling import wait_for
from tests.support.users import REFRESH_PATH, TOKEN_PATH

#: How long each dependency stays away here (the benchmark runs the long outages).
OUTAGE_S = 15.0
#: Catches a hang only: the target (30 s) is for the benchmark's figures to show.
RECOVERY_BOUND_S = 120.0
#: Every answer, 202 or 503, comes within the write API's own timeouts (never a hang).
ANSWER_BOUND_S = 12.0
#: Writes accepted after the return before the client stops (the "after" phase).
WRITES_AFTER = 20
#: The client's pause between a 503 and its retry, so it does not spin on the API.
RETRY_PAUSE_S = 0.2


@dataclass
class Todo:
    """What the accepted writes say a todo must look like."""

    title: str
    completed: bool = False
    deleted: bool = False
    #: Updates the write API accepted (202).
    updates: int = 0
    #: Updates or deletes answered 503 that may still have reached Kafka (a delivery that
    #: timed out): each may add one version.
    uncertain: int = 0


@dataclass
class Answers:
    """Every answer the client got, by status, and the slowest one."""

    statuses: dict[int, int] = field(default_factory=dict)
    slowest_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    def count(self, response: requests.Response, elapsed: float, what: str) -> None:
        """Record one answer; a 503 must carry Retry-After, anything else unexpected is noted."""
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        self.slowest_s = max(self.slowest_s, elapsed)
        if response.status_code == 503 and not response.headers.get("Retry-After"):
            self.problems.append(f"{what}: 503 without Retry-After")
        elif response.status_code not in (202, 503, 404):
            self.problems.append(f"{what}: {response.status_code} {response.text[:200]}")


class Client:
    """Writes creates, updates and deletes one after the other, each retried until accepted."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.thread = threading.Thread(target=self.run, name="outage-client", daemon=True)
        self.pipeline = pipeline
        self.todos: dict[int, Todo] = {}
        self.answers = Answers()
        self.accepted = 0
        self.accepted_at: list[float] = []
        self.refused_at: list[float] = []
        self._stop_after: int | None = None
        self._halt = threading.Event()
        self.failure: BaseException | None = None
        #: Another user's clients, for checks beside the writes (the FerretDB outage's reads).
        self.reader: Pipeline | None = None

    def stop_after(self, more: int) -> None:
        """Stop once `more` further writes were accepted."""
        self._stop_after = self.accepted + more

    def halt(self) -> None:
        """Stop at once (on a failing test)."""
        self._halt.set()

    def accepted_since(self, moment: float) -> int:
        """How many writes were accepted after `moment` (time.monotonic())."""
        return sum(1 for at in self.accepted_at if at >= moment)

    def refused_since(self, moment: float) -> int:
        """How many 503s came after `moment` (time.monotonic())."""
        return sum(1 for at in self.refused_at if at >= moment)

    def run(self) -> None:
        """Write until told to stop; an unexpected error ends the client and is kept."""
        try:
            for n in _numbers():
                if self._halt.is_set() or (
                    self._stop_after is not None and self.accepted >= self._stop_after
                ):
                    return
                self._write(n)
        except BaseException as exc:
            self.failure = exc

    def _write(self, n: int) -> None:
        live = [todo_id for todo_id, todo in self.todos.items() if not todo.deleted]
        if n % 4 == 1 and live:
            self._update(live[n % len(live)], n)
        elif n % 7 == 3 and len(live) > 3:
            self._remove(live[0])
        else:
            self._create(n)

    def _create(self, n: int) -> None:
        title = f"outage {n}"
        # One key for every attempt: a create whose 503 hid a delivery is not made twice.
        key = str(uuid.uuid4())
        response = self._until_answered(
            "POST", "/api/todos/", {"title": title}, {"Idempotency-Key": key}, f"create {n}"
        )
        if response.status_code == 202:
            self.todos[int(response.json()["data"]["id"])] = Todo(title=title)
            self._accept()

    def _update(self, todo_id: int, n: int) -> None:
        todo = self.todos[todo_id]
        title, completed = f"outage {n} update", not todo.completed
        body = {"title": title, "completed": completed}
        response = self._until_answered(
            "PATCH", f"/api/todos/{todo_id}/", body, {}, f"update {todo_id}", todo
        )
        if response.status_code == 202:
            todo.title, todo.completed = title, completed
            todo.updates += 1
            self._accept()

    def _remove(self, todo_id: int) -> None:
        todo = self.todos[todo_id]
        response = self._until_answered(
            "DELETE", f"/api/todos/{todo_id}/", None, {}, f"delete {todo_id}", todo
        )
        # A 404 after an uncertain 503: that first delete did reach the command agent.
        if response.status_code == 202 or (response.status_code == 404 and todo.uncertain):
            todo.deleted = True
            self._accept()

    def _accept(self) -> None:
        self.accepted += 1
        self.accepted_at.append(time.monotonic())

    def _until_answered(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        what: str,
        todo: Todo | None = None,
    ) -> requests.Response:
        """Send the write until it gets anything but a 503 (or the client is halted)."""
        while True:
            started = time.monotonic()
            response = self.pipeline.http.request(
                method,
                f"{self.pipeline.cud_url}{path}",
                json=body,
                headers=headers,
                timeout=ANSWER_BOUND_S + 5,
            )
            self.answers.count(response, time.monotonic() - started, what)
            if response.status_code != 503 or self._halt.is_set():
                return response
            self.refused_at.append(time.monotonic())
            if todo is not None and "kafka" in response.json().get("errors", {}):
                todo.uncertain += 1
            self._halt.wait(RETRY_PAUSE_S)


def _numbers() -> Iterator[int]:
    n = 0
    while True:
        yield n
        n += 1


@dataclass
class Outage:
    """One run: the client, when the dependencies came back, and how long convergence took."""

    client: Client
    back_at: float = 0.0
    recovery_s: float = 0.0


def _owner_rows(pipeline: Pipeline) -> dict[int, tuple[str, bool, int, Any]]:
    with pipeline.pg() as conn:
        rows = conn.execute(
            "SELECT id, title, completed, version, updated_at FROM todos WHERE owner_id = %s",
            (pipeline.owner_id,),
        ).fetchall()
    return {int(r[0]): (str(r[1]), bool(r[2]), int(r[3]), r[4]) for r in rows}


def _applied_commands(pipeline: Pipeline) -> dict[str, int]:
    with pipeline.pg() as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM todo_commands WHERE owner_id = %s GROUP BY status",
            (pipeline.owner_id,),
        ).fetchall()
    return {str(status): int(count) for status, count in rows}


def check_converged(client: Client) -> bool:
    """Raise unless PostgreSQL and MongoDB hold exactly what the client's accepted writes say."""
    pipeline, todos = client.pipeline, client.todos
    live = {todo_id: todo for todo_id, todo in todos.items() if not todo.deleted}
    rows = _owner_rows(pipeline)
    if set(rows) != set(live):
        raise AssertionError(
            f"rows: missing {sorted(set(live) - set(rows))[:10]}, "
            f"extra {sorted(set(rows) - set(live))[:10]}"
        )
    for todo_id, todo in live.items():
        title, completed, version, _ = rows[todo_id]
        assert (title, completed) == (todo.title, todo.completed), (todo_id, rows[todo_id], todo)
        low = 1 + todo.updates
        assert low <= version <= low + todo.uncertain, (todo_id, version, todo)
    commands = _applied_commands(pipeline)
    assert commands.get("rejected", 0) == 0, commands
    uncertain = sum(todo.uncertain for todo in todos.values())
    applied = commands.get("applied", 0)
    assert client.accepted <= applied <= client.accepted + uncertain, (applied, client.accepted)
    documents = pipeline.mongo_live_todos()  # asserts each todo is in one bucket only
    projected = {todo_id for todo_id in todos if todo_id in documents}
    if projected != set(live):
        raise AssertionError(
            f"documents: missing {sorted(set(live) - projected)[:10]}, "
            f"extra {sorted(projected - set(live))[:10]}"
        )
    for todo_id in live:
        title, completed, _, updated_at = rows[todo_id]
        document = documents[todo_id]
        assert (document["title"], document["completed"]) == (title, completed), todo_id
        assert document["updated_at"] == format_time(updated_at), (todo_id, document, updated_at)
    return True


def run_outage(
    pipeline: Pipeline,
    stack: IsolatedStack,
    services: Sequence[str],
    *,
    refused: bool,
    before: Callable[[Client], Any] | None = None,
    during: Callable[[Client, Any], None] | None = None,
) -> Outage:
    """Write before, during and after an outage of `services`; return the recovery figure.

    `refused`: whether the write API refuses writes (503) while the services are away.
    `before(client)` runs just before the services stop; `during(client, what before returned)`
    once the outage has lasted OUTAGE_S, before the services return.
    """
    client = Client(pipeline.as_user())
    outage = Outage(client)
    client.thread.start()
    try:
        wait_for(lambda: client.accepted >= 10, timeout=60, message="writes before the outage")
        context = before(client) if before is not None else None
        stopped_at = time.monotonic()
        for name in services:
            stack.stop(name)
        down_at = time.monotonic()

        def lasted() -> bool:
            if client.failure is not None:
                raise AssertionError(f"the client failed: {client.failure!r}")
            if refused:
                return time.monotonic() - down_at >= OUTAGE_S and client.refused_since(down_at) > 0
            # Writes go on while the services are away: some must have been accepted then.
            return time.monotonic() - down_at >= OUTAGE_S and client.accepted_since(down_at) > 0

        wait_for(lasted, timeout=OUTAGE_S + 60, interval=0.5, message="an outage with writes")
        if during is not None:
            during(client, context)
        for name in reversed(services):
            stack.start(name)
        outage.back_at = time.monotonic()
        print(
            f"\n{'+'.join(services)}: away {outage.back_at - stopped_at:.1f}s "
            f"(stop took {down_at - stopped_at:.1f}s)"
        )
        wait_for(
            lambda: client.accepted_since(outage.back_at) > 0,
            timeout=RECOVERY_BOUND_S,
            message="a write accepted after the return",
        )
        client.stop_after(WRITES_AFTER)
        client.thread.join(RECOVERY_BOUND_S)
        assert not client.thread.is_alive(), "the client did not finish its writes after the outage"
        assert client.failure is None, repr(client.failure)
        wait_for(
            lambda: check_converged(client),
            timeout=RECOVERY_BOUND_S,
            interval=0.5,
            message="every accepted write applied and projected once",
        )
        outage.recovery_s = time.monotonic() - outage.back_at
    finally:
        client.halt()
        client.thread.join(30)
    answers = client.answers
    print(
        f"{'+'.join(services)}: converged {outage.recovery_s:.1f}s after the return; "
        f"{client.accepted} writes accepted, answers {answers.statuses}, "
        f"slowest answer {answers.slowest_s:.1f}s"
    )
    assert not answers.problems, answers.problems[:5]
    assert answers.slowest_s <= ANSWER_BOUND_S, answers.slowest_s
    if refused:
        assert answers.statuses.get(503, 0) > 0, answers.statuses
    for todo_id, todo in list(client.todos.items())[::7]:
        response = client.pipeline.read(f"/api/todos/{todo_id}/")
        assert response.status_code == (404 if todo.deleted else 200), (todo_id, response.text)
        if not todo.deleted:
            assert response.json()["title"] == todo.title
    return outage


def _sign_in_refused_while_postgres_is_down(client: Client, _: object) -> None:
    """Sign-in answers 503 + Retry-After in time, and token refresh 503 or a token: never a 500."""
    user = client.pipeline.user
    for path, body in (
        (TOKEN_PATH, {"username": user.username, "password": user.password}),
        (REFRESH_PATH, {"refresh": user.refresh}),
    ):
        started = time.monotonic()
        response = requests.post(
            f"{client.pipeline.cud_url}{path}", json=body, timeout=ANSWER_BOUND_S + 5
        )
        elapsed = time.monotonic() - started
        print(f"{path} while PostgreSQL is away: {response.status_code} in {elapsed:.1f}s")
        assert elapsed <= ANSWER_BOUND_S, (path, elapsed)
        if path == REFRESH_PATH and response.status_code == 200:
            assert response.json()["data"]["access"]  # refreshed without the database
            continue
        assert response.status_code == 503, (path, response.status_code, response.text)
        assert int(response.headers["Retry-After"]) > 0


@pytest.mark.disruptive(stops="postgres")
def test_a_postgres_outage_is_recovered_and_nothing_accepted_is_lost(pipeline, stack):
    run_outage(
        pipeline, stack, ["postgres"], refused=True, during=_sign_in_refused_while_postgres_is_down
    )


@pytest.mark.disruptive(stops="connect")
def test_a_connect_outage_is_recovered_and_nothing_accepted_is_lost(pipeline, stack):
    needs(stack, "connect")
    run_outage(pipeline, stack, ["connect"], refused=False)


def _readable_by_id(client: Client) -> list[int]:
    """Todos of another user, readable by id just before MongoDB goes away (none changes after)."""
    other = client.pipeline.as_user()
    ids = [other.create(f"read during the outage {n}") for n in range(3)]
    for todo_id in ids:
        other.wait_todo(todo_id, lambda body: True)
    client.reader = other
    return ids


def _reads_by_id_answer_from_the_table(client: Client, ids: list[int]) -> None:
    """While MongoDB is away the read API still answers those todos by id (from its table)."""
    assert client.reader is not None
    for todo_id in ids:
        response = client.reader.read(f"/api/todos/{todo_id}/")
        assert response.status_code == 200, (todo_id, response.status_code, response.text)
        assert response.json()["id"] == todo_id


@pytest.mark.disruptive(stops="ferretdb")
def test_a_ferretdb_outage_is_recovered_and_reads_by_id_go_on(pipeline, stack):
    needs(stack, "ferretdb")
    run_outage(
        pipeline,
        stack,
        ["ferretdb"],
        refused=False,
        before=_readable_by_id,
        during=_reads_by_id_answer_from_the_table,
    )


@pytest.mark.disruptive(stops="kafka")
def test_a_kafka_outage_is_recovered_and_nothing_accepted_is_lost(pipeline, stack):
    run_outage(pipeline, stack, ["kafka"], refused=True)


@pytest.mark.disruptive(stops="kafka")
def test_kafka_and_postgres_away_together_are_recovered(pipeline, stack):
    # PostgreSQL stops first: stopped after Kafka, its fast shutdown waits for Debezium's
    # walsender, which a task blocked on Kafka does not drain, beyond the launcher's 30-s wait.
    run_outage(pipeline, stack, ["postgres", "kafka"], refused=True)
