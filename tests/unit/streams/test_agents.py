"""Agents through agent.test_context(): decode, decide, write; poison goes to the DLQ."""

from __future__ import annotations

from streams.agents.changes import project_changes
from streams.agents.commands import apply_commands
from streams.tables import get_projection, todos_table
from tests.support.polling import async_wait_for
from tests.unit.streams.samples import change, command_bytes, row


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
    projection = get_projection(42)
    assert projection is not None and projection.todo is None  # tombstone after the delete
    assert [p.position.lsn for _, p in model.writes] == [1000, 2000, 3000]
    assert [reason for _, _, reason in dead_letters] == [dead_letters[0][2]]
    assert dead_letters[0][0] == "postgres.public.todos.dlq"
    todos_table.data.clear()
