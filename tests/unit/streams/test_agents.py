"""Agents through agent.test_context(): decode, decide, write; poison goes to the DLQ."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace

import orjson

from contracts.records import TodoCommand
from streams.agents import changes, commands
from streams.agents.changes import project_changes
from streams.agents.commands import apply_commands
from streams.agents.pipeline import Backoff
from streams.domain import Projection
from streams.postgres import BatchOutcome
from streams.read_model import DocumentsRefusedError
from streams.tables import get_projection, todos_table
from tests.support.polling import async_wait_for
from tests.unit.streams.conftest import FakeCommandStore, FakeReadModel, use_clients
from tests.unit.streams.samples import OWNER, change, command_bytes, row


async def test_the_command_agent_applies_decoded_commands_in_order(fakes, dead_letters):
    store, _ = fakes
    async with apply_commands.test_context() as agent:
        await agent.put(command_bytes(42, "create"), key=b"42")
        await agent.put(command_bytes(42, "update", data={"completed": True}), key=b"42")

        async def both_applied():
            return store.batches if sum(len(b) for b in store.batches) == 2 else None

        batches = await async_wait_for(
            both_applied,
            timeout=5,
            message="two commands applied",
        )
    applied = [c.operation for batch in batches for c in batch]
    assert applied == ["create", "update"]
    assert dead_letters == []


async def test_the_command_agent_dead_letters_poison_and_keeps_going(fakes, dead_letters):
    store, _ = fakes
    async with apply_commands.test_context() as agent:
        await agent.put(b"\x00garbage", key=b"42")
        await agent.put(command_bytes(42, "archive"), key=b"42")
        await agent.put(command_bytes(43, "create"), key=b"43")

        async def applied():
            return store.batches

        await async_wait_for(applied, timeout=5, message="good command applied")
    assert [c.todo_id for batch in store.batches for c in batch] == [43]
    reasons = [reason for _, _, reason in dead_letters]
    assert len(reasons) == 2
    assert "not JSON" in reasons[0] and "unknown operation" in reasons[1]
    assert {topic for topic, _, _ in dead_letters} == {"todos.dlq"}
    assert dead_letters[0][1] == b"\x00garbage"


async def test_the_change_agent_projects_into_the_table_and_the_read_model(fakes, dead_letters):
    _, model = fakes
    async with project_changes.test_context() as agent:
        await agent.put(change("c", lsn=1000, after=row()), key=b"42")
        await agent.put(change("u", lsn=2000, after=row(version=2, completed=True)), key=b"42")
        await agent.put(change("u", lsn=1500, after=row(title="stale")), key=b"42")  # replay
        await agent.put(None, key=b"42")  # a tombstone is skipped
        await agent.put(b"{not json", key=b"42")
        await agent.put(change("d", lsn=3000, before=row(version=2)), key=b"42")
        await agent.put(change("c", lsn=3500, after=row(7, title="other")), key=b"7")

        async def projected():
            return len(model.documents) == 2 and model.documents[42].position.lsn == 3000

        await async_wait_for(projected, timeout=5, message="both todos projected")
    projection = get_projection(42)
    assert projection is not None and projection.todo is None  # tombstone after the delete
    other = get_projection(7)
    assert other is not None and other.todo is not None and other.todo.title == "other"
    # however the batches fell, writes only ever move a todo forward, never to the replay
    lsns = [p.position.lsn for todo_id, p in model.writes if todo_id == 42]
    assert lsns == sorted(lsns) and 1500 not in lsns and lsns[-1] == 3000
    assert [reason for _, _, reason in dead_letters] == [dead_letters[0][2]]
    assert dead_letters[0][0] == "postgres.public.todos.dlq"
    todos_table.data.clear()


async def test_the_change_agent_takes_a_reassigned_todo_out_of_the_owner_the_table_knew(
    fakes, dead_letters
):
    _, model = fakes
    async with project_changes.test_context() as agent:
        await agent.put(change("c", lsn=1000, after=row(owner_id=OWNER)), key=b"42")

        async def at(lsn):
            return 42 in model.documents and model.documents[42].position.lsn == lsn

        await async_wait_for(lambda: at(1000), timeout=5, message="the create projected")
        # an admin edit: Debezium's `before` is missing here, the table remembers the owner
        reassigned = row(owner_id=OWNER + 1, version=2)
        await agent.put(change("u", lsn=2000, after=reassigned), key=b"42")
        await async_wait_for(lambda: at(2000), timeout=5, message="the reassignment projected")
    moved = model.documents[42]
    assert (moved.owner_id, moved.former_owners) == (OWNER + 1, {OWNER})
    held = get_projection(42)
    assert held is not None and held.owner_id == OWNER + 1
    assert dead_letters == []
    todos_table.data.clear()


class BlockingCommandStore:
    """Applies the first batch, then never finishes another (a stop arrives meanwhile)."""

    def __init__(self) -> None:
        self.batches: list[list[TodoCommand]] = []
        self.blocked = asyncio.Event()

    async def apply_batch(self, commands: list[TodoCommand]) -> BatchOutcome:
        self.batches.append(list(commands))
        if len(self.batches) > 1:
            self.blocked.set()
            await asyncio.Event().wait()
        return BatchOutcome(applied=len(commands))


async def test_a_command_batch_cut_short_by_a_stop_is_not_acknowledged(monkeypatch):
    # take()/take_events() would ack the in-flight batch when the stop closes them, and its
    # offsets would be committed though PostgreSQL never saw its commands.
    store = BlockingCommandStore()
    use_clients(monkeypatch, command_store=store)
    async with apply_commands.test_context() as agent:
        applied = await agent.put(command_bytes(42, "create"), key=b"42")

        async def first_acked():
            return applied.message.acked

        await async_wait_for(first_acked, timeout=5, message="first batch acked")
        in_flight = await agent.put(command_bytes(43, "create"), key=b"43")
        await asyncio.wait_for(store.blocked.wait(), timeout=5)
    assert applied.message.acked
    assert not in_flight.message.acked


class BlockingReadModel(FakeReadModel):
    """Writes the first batch, then never finishes another."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.blocked = asyncio.Event()

    async def write(self, projections: Mapping[int, Projection]) -> int:
        self.calls += 1
        if self.calls > 1:
            self.blocked.set()
            await asyncio.Event().wait()
        return await super().write(projections)


async def test_a_change_batch_cut_short_by_a_stop_is_not_acknowledged(monkeypatch):
    model = BlockingReadModel()
    use_clients(monkeypatch, read_model=model)
    async with project_changes.test_context() as agent:
        applied = await agent.put(change("c", lsn=1000, after=row()), key=b"42")

        async def first_acked():
            return applied.message.acked

        await async_wait_for(first_acked, timeout=5, message="first batch acked")
        in_flight = await agent.put(change("u", lsn=2000, after=row(version=2)), key=b"42")
        await asyncio.wait_for(model.blocked.wait(), timeout=5)
    assert applied.message.acked
    assert not in_flight.message.acked
    # nor did the table move ahead of MongoDB
    projection = get_projection(42)
    assert projection is not None and projection.position.lsn == 1000
    todos_table.data.clear()


class RefusingCommandStore:
    """Refuses, like PostgreSQL would, any batch holding a command whose title has a NUL."""

    def __init__(self) -> None:
        self.batches: list[list[TodoCommand]] = []

    async def apply_batch(self, commands: list[TodoCommand]) -> BatchOutcome:
        from psycopg import DataError

        if any("\x00" in str(c.data.get("title", "")) for c in commands):
            raise DataError("invalid byte sequence for encoding UTF8: 0x00")
        self.batches.append(list(commands))
        return BatchOutcome(applied=len(commands))


async def test_a_command_postgresql_refuses_is_dead_lettered_and_its_batch_mates_applied(
    monkeypatch, dead_letters
):
    store = RefusingCommandStore()
    use_clients(monkeypatch, command_store=store)
    async with apply_commands.test_context() as agent:
        await agent.put(command_bytes(41, "create"), key=b"41")
        await agent.put(command_bytes(42, "create", data={"title": "nul\x00"}), key=b"42")
        await agent.put(command_bytes(43, "create"), key=b"43")

        async def both_good_applied():
            ids = [c.todo_id for batch in store.batches for c in batch]
            return ids if {41, 43} <= set(ids) else None

        applied = await async_wait_for(both_good_applied, timeout=5, message="good applied")
    assert 42 not in applied
    assert [(topic, reason[:20]) for topic, _, reason in dead_letters] == [
        ("todos.dlq", "PostgreSQL refused: ")
    ]


class RefusingReadModel(FakeReadModel):
    """Refuses todo 42's document for good, as a server write error would."""

    async def write(self, projections: Mapping[int, Projection]) -> int:
        if 42 in projections:
            raise DocumentsRefusedError([{"index": 0, "code": 2, "errmsg": "bad value"}])
        return await super().write(projections)


async def test_a_todo_mongodb_refuses_is_dead_lettered_and_its_batch_mates_projected(
    monkeypatch, dead_letters
):
    model = RefusingReadModel()
    use_clients(monkeypatch, read_model=model)
    async with project_changes.test_context() as agent:
        for todo_id in (41, 42, 43):
            await agent.put(
                change("c", lsn=1000 + todo_id, after=row(todo_id)), key=b"%d" % todo_id
            )

        async def both_good_projected():
            return {41, 43} <= set(model.documents) and len(dead_letters) == 1

        await async_wait_for(both_good_projected, timeout=5, message="good projected")
    assert 42 not in model.documents
    assert get_projection(42) is None
    assert get_projection(41) is not None and get_projection(43) is not None
    [(topic, value, reason)] = dead_letters
    assert topic == "postgres.public.todos.dlq"
    assert reason.startswith("MongoDB refused the document: ")
    assert value is not None and orjson.loads(value)["after"]["id"] == 42
    todos_table.data.clear()


class Outage:
    """Raises `error` on the first `times` calls, as a dependency restarting would."""

    def __init__(self, times: int, error: Exception) -> None:
        self.times = times
        self.error = error
        self.waits: list[float] = []

    def check(self) -> None:
        if self.times:
            self.times -= 1
            raise self.error

    async def wait(self, seconds: float) -> None:
        """Stand in for the backoff's sleep: record the wait, spend no time."""
        self.waits.append(seconds)


class FlakyCommandStore(FakeCommandStore):
    """A command store behind an outage."""

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    async def apply_batch(self, commands: list[TodoCommand]) -> BatchOutcome:
        self.outage.check()
        return await super().apply_batch(commands)


async def test_an_unreachable_postgresql_holds_the_batch_until_it_is_applied(
    monkeypatch, dead_letters
):
    from psycopg import OperationalError

    outage = Outage(3, OperationalError("connection refused"))
    store = FlakyCommandStore(outage)
    use_clients(monkeypatch, command_store=store)
    monkeypatch.setattr(
        commands, "POSTGRESQL", replace(commands.POSTGRESQL, backoff=Backoff(sleep=outage.wait))
    )
    async with apply_commands.test_context() as agent:
        event = await agent.put(command_bytes(42, "create"), key=b"42")

        async def acked():
            return event.message.acked

        await async_wait_for(acked, timeout=5, message="batch acked after the outage")
    assert outage.times == 0 and outage.waits == [0.1, 0.2, 0.4]
    assert [c.todo_id for batch in store.batches for c in batch] == [42]
    assert dead_letters == []


class FlakyReadModel(FakeReadModel):
    """A read model behind an outage."""

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    async def write(self, projections: Mapping[int, Projection]) -> int:
        self.outage.check()
        return await super().write(projections)


async def test_an_unreachable_mongodb_holds_the_batch_until_it_is_projected(
    monkeypatch, dead_letters
):
    from pymongo.errors import AutoReconnect

    outage = Outage(3, AutoReconnect("connection refused"))
    model = FlakyReadModel(outage)
    use_clients(monkeypatch, read_model=model)
    monkeypatch.setattr(
        changes, "MONGODB", replace(changes.MONGODB, backoff=Backoff(sleep=outage.wait))
    )
    async with project_changes.test_context() as agent:
        event = await agent.put(change("c", lsn=1000, after=row()), key=b"42")

        async def acked():
            return event.message.acked

        await async_wait_for(acked, timeout=5, message="batch acked after the outage")
    assert outage.times == 0 and outage.waits == [0.1, 0.2, 0.4]
    assert 42 in model.documents
    assert get_projection(42) is not None
    assert dead_letters == []
    todos_table.data.clear()
