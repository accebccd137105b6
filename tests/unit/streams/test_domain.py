"""Pure decisions: apply_command and project_change."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from contracts.limits import DESCRIPTION_MAX_LENGTH
from contracts.records import decode_change, decode_command
from streams.domain import (
    Insert,
    Reject,
    Remove,
    Update,
    apply_command,
    fold_changes,
    project_change,
)
from streams.domain.commands import plan_batch
from tests.unit.streams.samples import OWNER, change, command_bytes, row

OTHER = OWNER + 1


def _command(operation="create", **overrides):
    return decode_command(b"42", command_bytes(operation=operation, **overrides))


def _created():
    decision = apply_command(None, _command())
    assert isinstance(decision, Insert)
    return decision.row


def test_create_inserts_version_one_with_the_command_time():
    todo = _created()
    assert (todo.id, todo.title, todo.version) == (42, "Learn Kafka", 1)
    assert todo.created_at == todo.updated_at == _command().timestamp


def test_create_fills_defaults_for_fields_not_sent():
    decision = apply_command(None, _command(data={"title": "Only a title"}))
    assert isinstance(decision, Insert)
    assert (decision.row.description, decision.row.completed) == ("", False)


def test_create_of_an_existing_todo_is_rejected():
    decision = apply_command(_created(), _command())
    assert isinstance(decision, Reject) and "already exists" in decision.reason


def test_create_without_a_valid_title_is_rejected():
    assert isinstance(apply_command(None, _command(data={})), Reject)
    assert isinstance(apply_command(None, _command(data={"title": "x" * 201})), Reject)
    assert isinstance(apply_command(None, _command(data={"title": "  "})), Reject)


def test_a_description_over_the_contracts_limit_is_rejected():
    data = {"title": "t", "description": "x" * (DESCRIPTION_MAX_LENGTH + 1)}
    decision = apply_command(None, _command(data=data))
    assert isinstance(decision, Reject) and "description is longer" in decision.reason
    data["description"] = "x" * DESCRIPTION_MAX_LENGTH
    assert not isinstance(apply_command(None, _command(data=data)), Reject)


def test_patch_changes_only_the_fields_sent_and_bumps_version_and_updated_at():
    todo = _created()
    later = (todo.updated_at + timedelta(seconds=5)).isoformat()
    decision = apply_command(todo, _command("update", data={"completed": True}, timestamp=later))
    assert isinstance(decision, Update)
    assert decision.row.completed is True
    assert decision.row.title == todo.title
    assert decision.row.version == 2
    assert decision.row.updated_at > todo.updated_at
    assert decision.row.created_at == todo.created_at


def test_update_never_moves_updated_at_backwards():
    todo = _created()
    earlier = (todo.updated_at - timedelta(hours=1)).isoformat()
    decision = apply_command(todo, _command("update", data={"title": "t"}, timestamp=earlier))
    assert isinstance(decision, Update) and decision.row.updated_at == todo.updated_at


def test_update_or_delete_of_a_missing_todo_is_rejected():
    for operation in ("update", "delete"):
        decision = apply_command(None, _command(operation, data={}))
        assert isinstance(decision, Reject) and "does not exist" in decision.reason


def test_delete_removes_the_row():
    assert apply_command(_created(), _command("delete", data={})) == Remove(42)


def test_a_create_gives_the_row_the_commands_owner_and_an_update_keeps_it():
    assert _created().owner_id == OWNER
    decision = apply_command(_created(), _command("update", data={"title": "renamed"}))
    assert isinstance(decision, Update) and decision.row.owner_id == OWNER


def test_a_create_for_an_owner_that_does_not_exist_is_rejected_and_the_rest_applies():
    orphan = _command(owner_id=OTHER)
    other_todo = decode_command(b"43", command_bytes(todo_id=43))
    plan = plan_batch(
        {}, [orphan, other_todo], [orphan.command_id, other_todo.command_id], owners={OWNER}
    )
    assert plan.rejections == [(orphan.command_id, f"user {OTHER} does not exist")]
    assert [todo.id for todo in plan.inserts] == [43] and plan.applied == 1


def test_another_users_update_or_delete_gets_the_answer_of_a_missing_todo():
    for operation in ("update", "delete"):
        theirs = apply_command(_created(), _command(operation, data={}, owner_id=OTHER))
        missing = apply_command(None, _command(operation, data={}))
        assert theirs == missing == Reject("todo 42 does not exist")
    # a row captured before owners existed belongs to nobody a command can name
    ownerless = replace(_created(), owner_id=None)
    assert isinstance(apply_command(ownerless, _command("delete", data={})), Reject)


def _event(op="c", lsn=1000, **fields):
    if op == "d":
        return decode_change(b"42", change("d", lsn=lsn, before=row(**fields)))
    return decode_change(b"42", change(op, lsn=lsn, after=row(**fields)))


def _cmd(todo_id, operation, owner=OWNER, **data):
    body = command_bytes(todo_id=todo_id, operation=operation, data=data, owner_id=owner)
    return decode_command(str(todo_id).encode(), body)


def test_a_batch_plan_writes_each_todo_once_with_its_last_row():
    existing = replace(_created(), id=7)
    commands = [
        _cmd(7, "update", title="one"),
        _cmd(8, "create", title="new"),
        _cmd(7, "update", completed=True),
        _cmd(8, "update", description="more"),
    ]
    plan = plan_batch({7: existing}, commands, [c.command_id for c in commands])
    assert [(r.id, r.title, r.completed, r.version) for r in plan.updates] == [(7, "one", True, 3)]
    assert [(r.id, r.title, r.description, r.version) for r in plan.inserts] == [
        (8, "new", "more", 2)
    ]
    assert (plan.deletes, plan.rejections, plan.applied, plan.duplicates) == ([], [], 4, 0)


def test_a_batch_plan_nets_out_a_create_and_delete_and_deletes_existing_rows():
    existing = replace(_created(), id=7)
    commands = [_cmd(9, "create", title="brief"), _cmd(9, "delete"), _cmd(7, "delete")]
    plan = plan_batch({7: existing}, commands, [c.command_id for c in commands])
    assert (plan.inserts, plan.updates, plan.deletes, plan.applied) == ([], [], [7], 3)


def test_a_batch_plan_turns_delete_then_create_of_a_row_into_an_update_to_the_new_one():
    existing = replace(_created(), id=7, version=5, title="old")
    commands = [_cmd(7, "delete"), _cmd(7, "create", title="again")]
    plan = plan_batch({7: existing}, commands, [c.command_id for c in commands])
    assert [(r.title, r.version) for r in plan.updates] == [("again", 1)]
    assert (plan.inserts, plan.deletes) == ([], [])


def test_a_batch_plan_decides_in_order_and_records_rejections():
    commands = [
        _cmd(5, "update", title="too early"),
        _cmd(5, "create", title="made"),
        _cmd(5, "create", title="twice"),
    ]
    plan = plan_batch({}, commands, [c.command_id for c in commands])
    assert plan.rejections == [
        (commands[0].command_id, "todo 5 does not exist"),
        (commands[2].command_id, "todo 5 already exists"),
    ]
    assert [r.title for r in plan.inserts] == ["made"]
    assert plan.applied == 1


def test_a_batch_plan_refuses_another_users_update_and_delete_and_writes_nothing_for_them():
    mine, theirs = replace(_created(), id=7), replace(_created(), id=8, owner_id=OTHER)
    commands = [
        _cmd(7, "update", owner=OTHER, title="not yours"),
        _cmd(7, "delete", owner=OTHER),
        _cmd(8, "update", title="not mine either"),
        _cmd(8, "delete", owner=OTHER),
    ]
    plan = plan_batch({7: mine, 8: theirs}, commands, [c.command_id for c in commands])
    assert plan.rejections == [
        (commands[0].command_id, "todo 7 does not exist"),
        (commands[1].command_id, "todo 7 does not exist"),
        (commands[2].command_id, "todo 8 does not exist"),
    ]
    assert (plan.inserts, plan.updates, plan.deletes, plan.applied) == ([], [], [8], 1)


def test_a_batch_plan_refuses_another_users_update_of_a_todo_created_in_the_same_batch():
    create = _cmd(5, "create", title="mine")
    intruder = _cmd(5, "update", owner=OTHER, completed=True)
    own = _cmd(5, "update", description="still mine")
    plan = plan_batch(
        {}, [create, intruder, own], [create.command_id, intruder.command_id, own.command_id]
    )
    assert plan.rejections == [(intruder.command_id, "todo 5 does not exist")]
    assert [(r.owner_id, r.completed, r.description) for r in plan.inserts] == [
        (OWNER, False, "still mine")
    ]


def test_a_batch_plan_skips_commands_not_fresh_and_repeats_within_the_batch():
    create, update = _cmd(5, "create", title="made"), _cmd(5, "update", title="renamed")
    plan = plan_batch({}, [create, update, create], [create.command_id])
    assert [r.title for r in plan.inserts] == ["made"]
    assert (plan.applied, plan.duplicates) == (1, 2)


def test_the_first_change_of_a_todo_is_projected():
    projection = project_change(None, _event())
    assert projection is not None and projection.todo is not None
    assert projection.todo.title == "Learn Kafka"


def test_a_replayed_or_older_change_is_ignored():
    current = project_change(None, _event("u", lsn=2000, version=2))
    assert project_change(current, _event("u", lsn=2000, version=2)) is None
    assert project_change(current, _event("c", lsn=1000, version=1)) is None


def test_a_newer_lsn_wins_even_without_a_version_bump():
    # a psql UPDATE leaves version alone; its LSN is what makes it newer
    current = project_change(None, _event("u", lsn=2000, version=2))
    newer = project_change(current, _event("u", lsn=2500, version=2, title="psql"))
    assert newer is not None and newer.todo is not None and newer.todo.title == "psql"


def test_snapshot_rows_sharing_an_lsn_are_ordered_by_version():
    current = project_change(None, _event("r", lsn=500, version=3))
    assert project_change(current, _event("r", lsn=500, version=3)) is None
    assert project_change(current, _event("r", lsn=500, version=2)) is None
    assert project_change(current, _event("r", lsn=500, version=4)) is not None


def test_a_streamed_change_beats_a_snapshot_read_at_the_same_lsn():
    current = project_change(None, _event("r", lsn=500, version=3))
    assert project_change(current, _event("u", lsn=500, version=1)) is not None


def test_a_delete_leaves_a_tombstone_that_a_replayed_create_cannot_undo():
    created = project_change(None, _event("c", lsn=1000))
    deleted = project_change(created, _event("d", lsn=3000))
    assert deleted is not None and deleted.todo is None
    assert project_change(deleted, _event("c", lsn=1000)) is None
    assert project_change(deleted, _event("u", lsn=2000, version=2)) is None


def test_a_projection_survives_its_table_state_round_trip():
    projection = project_change(None, _event("u", lsn=2000, version=2))
    assert projection is not None
    assert type(projection).from_state(projection.to_state()) == projection
    deleted = replace(projection, todo=None)
    assert type(deleted).from_state(deleted.to_state()) == deleted


def test_a_batch_folds_each_todo_to_its_newest_change_in_any_order():
    events = [
        _event("u", lsn=2000, version=2, title="newest"),
        _event("c", lsn=1000, version=1),  # older, arriving later in the batch
        decode_change(b"7", change("c", lsn=1500, after=row(7))),
    ]
    moved = fold_changes(lambda todo_id: None, events)
    assert set(moved) == {42, 7}
    assert moved[42].todo is not None and moved[42].todo.title == "newest"


def test_a_batch_that_holds_nothing_newer_moves_nothing():
    held = project_change(None, _event("u", lsn=2000, version=2))
    moved = fold_changes(lambda todo_id: held, [_event("c", lsn=1000), _event("u", lsn=2000)])
    assert moved == {}


def test_a_batch_ending_in_a_delete_folds_to_a_tombstone():
    moved = fold_changes(lambda todo_id: None, [_event("c", lsn=1000), _event("d", lsn=3000)])
    assert moved[42].todo is None and moved[42].position.lsn == 3000


def _moved(lsn, owner, before=None):
    body = change("u", lsn=lsn, after=row(owner_id=owner), before=before and row(owner_id=before))
    return decode_change(b"42", body)


def test_a_change_of_owner_names_the_old_owner_from_the_table_or_the_before_row():
    held = project_change(None, _event("c", lsn=1000))
    assert held is not None and held.owner_id == OWNER and held.former_owners == frozenset()
    # the table's own view knows the old owner, even without a `before` row
    moved = project_change(held, _moved(2000, OTHER))
    assert moved is not None and (moved.owner_id, moved.former_owners) == (OTHER, {OWNER})
    # and so does Debezium's `before` when the table knows nothing
    moved = project_change(None, _moved(2000, OTHER, before=OWNER))
    assert moved is not None and moved.former_owners == {OWNER}
    # same owner: nothing to leave
    same = project_change(held, _moved(2000, OWNER, before=OWNER))
    assert same is not None and same.former_owners == frozenset()


def test_a_delete_leaves_its_owners_list():
    held = project_change(None, _event("c", lsn=1000))
    deleted = project_change(held, _event("d", lsn=3000))
    assert deleted is not None and deleted.owner_id is None
    assert deleted.former_owners == {OWNER}


def test_a_batch_folds_every_owner_the_todo_passed_through_into_its_former_owners():
    third = OTHER + 1
    events = [_moved(2000, OTHER, before=OWNER), _moved(3000, third, before=OTHER)]
    moved = fold_changes(lambda todo_id: None, events)
    assert (moved[42].owner_id, moved[42].former_owners) == (third, {OWNER, OTHER})
    back = fold_changes(lambda todo_id: None, [*events, _moved(4000, OWNER, before=third)])
    assert (back[42].owner_id, back[42].former_owners) == (OWNER, {OTHER, third})


def test_a_row_captured_before_owners_existed_belongs_to_nobody():
    ownerless = project_change(None, _event("r", lsn=500, owner_id=None))
    assert ownerless is not None and ownerless.todo is not None
    assert ownerless.owner_id is None and ownerless.former_owners == frozenset()
    owned = project_change(ownerless, _moved(1000, OWNER, before=None))
    assert owned is not None and (owned.owner_id, owned.former_owners) == (OWNER, frozenset())
