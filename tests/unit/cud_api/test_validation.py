"""The per-request validator decides and words its errors exactly as TodoInputSerializer does."""

import json

import pytest
from rest_framework.exceptions import ValidationError

from cud_api.todos.apis import TodoInputSerializer
from cud_api.todos.validation import todo_input_validate

TITLES: list[object] = [
    "Learn Kafka",
    "  padded  ",
    "",
    "   ",
    "\t\n",
    None,
    42,
    1.5,
    True,
    ["a"],
    [],
    {},
    {"a": 1},
    "x" * 200,
    "x" * 201,
    " " + "x" * 200 + " ",
    "a\x00b",
    "x" * 201 + "\x00",
    "a\ud800b",
    "x" * 201 + "\x00\udfff\ud800",
    "é" * 200,
]
DESCRIPTIONS: list[object] = [
    "",
    "   ",
    "  kept \n",
    None,
    7,
    False,
    ["a"],
    "a\x00",
    "\udc00",
    "x" * 70000,
]
COMPLETED: list[object] = [True, False, None, 0, 1, "true", "yes", [], {}]


def cases():
    yield from (None, [], [{"title": "x"}], "text", 42, True, {})
    for title in TITLES:
        yield {"title": title}
        yield {"title": title, "owner": "me"}
    for description in DESCRIPTIONS:
        yield {"title": "ok", "description": description}
        yield {"description": description}
    for completed in COMPLETED:
        yield {"title": "ok", "completed": completed}
        yield {"completed": completed, "zzz": 1, "aaa": 2}
    yield {"title": "ok", "description": "d", "completed": True}
    yield {"title": None, "description": None, "completed": None}
    yield {"title": "", "description": 1, "completed": "no", "extra": 0}
    yield {"owner": "me"}


def outcome_of_serializer(data, partial):
    serializer = TodoInputSerializer(data=data, partial=partial)
    if serializer.is_valid():
        return ("valid", dict(serializer.validated_data))
    return ("invalid", json.loads(json.dumps(ValidationError(serializer.errors).detail)))


def outcome_of_function(data, partial):
    try:
        return ("valid", todo_input_validate(data, partial=partial))
    except ValidationError as exc:
        return ("invalid", json.loads(json.dumps(exc.detail)))


@pytest.mark.parametrize("partial", [False, True])
@pytest.mark.parametrize("data", list(cases()), ids=repr)
def test_validator_matches_the_serializer(data, partial):
    mine, reference = outcome_of_function(data, partial), outcome_of_serializer(data, partial)
    assert mine == reference
    # Same order of fields too (the error envelope shows them in this order).
    assert list(mine[1]) == list(reference[1])
