"""The changelog matcher: when each accepted write became readable by id."""

from __future__ import annotations

import orjson

from bench.visibility import FirstReadable, all_seen, changelog_topic, match, readable_id


def _state(todo: dict[str, object] | None) -> bytes:
    return orjson.dumps({"todo": todo, "position": [1, 2]})


def test_changelog_topic_is_faust_naming_of_the_todos_table() -> None:
    assert changelog_topic("todo-eda-streams") == "todo-eda-streams-todos-changelog"


def test_a_record_with_a_todo_makes_its_key_readable() -> None:
    assert readable_id(b"42", _state({"id": 42, "title": "t"})) == 42


def test_deletes_tombstones_and_garbage_make_nothing_readable() -> None:
    assert readable_id(b"42", _state(None)) is None  # the projection of a deleted todo
    assert readable_id(b"42", None) is None  # a tombstone
    assert readable_id(None, _state({"id": 1})) is None
    assert readable_id(b"not-an-id", _state({"id": 1})) is None
    assert readable_id(b"42", b"{not json") is None


def test_first_readable_keeps_the_earliest_timestamp_per_id() -> None:
    seen = FirstReadable()
    seen.add(b"7", _state({"id": 7}), 2_000)
    seen.add(b"7", _state({"id": 7}), 1_500)  # an earlier record read later (other partition)
    seen.add(b"7", _state({"id": 7}), 3_000)
    seen.add(b"8", _state(None), 1_000)
    assert seen.at_ms == {7: 1_500}
    assert seen.records == 4


def test_match_pairs_each_202_with_its_readable_time_and_lists_the_missing() -> None:
    accepted = {1: 100.000, 2: 100.010, 3: 100.020}
    readable = {1: 100_050, 3: 100_015, 99: 1}
    matched = match(accepted, readable)
    assert [round(x, 3) for x in matched.latencies_s] == [0.05, -0.005]
    assert matched.missing == [2]
    assert matched.negative == 1


def test_all_seen_is_true_only_once_every_id_is_readable() -> None:
    assert all_seen([1, 2], {1: 5, 2: 6, 3: 7})
    assert not all_seen([1, 4], {1: 5})
    assert all_seen([], {})
