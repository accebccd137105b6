"""Who may change a todo: the write services' early 404 and the owner every command carries."""

import uuid

import pytest

from cud_api.core.exceptions import NotFoundError
from cud_api.todos import idempotency, services

ALICE, BOB = 7, 8


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(services, "command_publish", sent.append)
    return sent


@pytest.fixture
def rows(monkeypatch):
    """todo id -> owner id, and the sequence's last value, in place of PostgreSQL."""
    state = {"owners": {1: ALICE, 2: BOB}, "last": 10}

    def todo_owner_get(*, todo_id):
        return state["owners"].get(todo_id), todo_id <= state["last"]

    monkeypatch.setattr(services, "todo_owner_get", todo_owner_get)
    return state


def test_an_update_of_ones_own_todo_carries_the_owner(rows, published):
    services.todo_update(todo_id=1, owner_id=ALICE, data={"completed": True})
    (command,) = published
    assert (command.todo_id, command.owner_id, command.operation) == (1, ALICE, "update")


@pytest.mark.parametrize("change", ["update", "delete"])
def test_another_users_todo_is_404_like_a_missing_one_and_nothing_is_sent(rows, published, change):
    with pytest.raises(NotFoundError) as refused:
        if change == "update":
            services.todo_update(todo_id=2, owner_id=ALICE, data={"title": "mine now"})
        else:
            services.todo_delete(todo_id=2, owner_id=ALICE)
    with pytest.raises(NotFoundError) as missing:
        services.todo_delete(todo_id=11, owner_id=ALICE)
    assert refused.value.message == "Todo 2 does not exist."
    assert missing.value.message == "Todo 11 does not exist."
    assert published == []


def test_an_allocated_id_without_a_row_is_accepted_for_the_agent_to_decide(rows, published):
    services.todo_delete(todo_id=5, owner_id=BOB)
    (command,) = published
    assert (command.todo_id, command.owner_id, command.operation) == (5, BOB, "delete")


def test_a_create_carries_the_owner_and_takes_an_id_from_the_owners_block(monkeypatch, published):
    taken = []
    monkeypatch.setattr(services._ids, "next", lambda owner_id: taken.append(owner_id) or 41)
    receipt = services.todo_create(owner_id=BOB, title="t")
    (command,) = published
    assert taken == [BOB]
    assert (receipt.todo_id, command.todo_id, command.owner_id) == (41, 41, BOB)
    assert command.data == {"title": "t", "description": "", "completed": False}


def test_idempotency_keys_are_scoped_per_user():
    key = str(uuid.uuid4())
    alice = idempotency.idempotency_key_scope(owner_id=ALICE, key=key)
    bob = idempotency.idempotency_key_scope(owner_id=BOB, key=key)
    assert alice != bob
    assert alice.endswith(key) and bob.endswith(key)
    longest = idempotency.idempotency_key_scope(owner_id=2**63 - 1, key="k" * 255)
    assert len(longest) <= idempotency.IdempotencyKey._meta.get_field("key").max_length
