"""Validation of todo writes: strict types, required title, no unknown fields, one schema."""

import re
import sys

import pytest
from rest_framework.exceptions import ValidationError

from contracts.limits import TITLE_MAX_LENGTH
from cud_api.todos.inputs import (
    DESCRIPTION_PATTERN,
    TITLE_PATTERN,
    WHITESPACE,
    TodoPatch,
    TodoWrite,
    todo_input_validate,
)


def errors_of(data, *, partial=False):
    with pytest.raises(ValidationError) as caught:
        todo_input_validate(data, partial=partial)
    return caught.value.detail


def test_create_with_only_a_title_gets_the_default_description_and_completed():
    assert todo_input_validate({"title": "Learn Kafka"}) == {
        "title": "Learn Kafka",
        "description": "",
        "completed": False,
    }


def test_create_keeps_all_fields_sent_and_trims_only_the_title():
    data = {"title": " Learn Kafka\t", "description": "  Study EDA \n", "completed": True}
    assert todo_input_validate(data) == {**data, "title": "Learn Kafka"}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "title", "This field is required."),
        ({"title": ""}, "title", "This field may not be blank."),
        ({"title": "   "}, "title", "This field may not be blank."),
        ({"title": "\u3000\x1c\n"}, "title", "This field may not be blank."),
        ({"title": None}, "title", "This field may not be null."),
        ({"title": 42}, "title", "Must be a string."),
        ({"title": True}, "title", "Must be a string."),
        ({"title": ["a"]}, "title", "Must be a string."),
        ({"title": "x" * 201}, "title", "Ensure this field has no more than 200 characters."),
        (
            {"title": " " + "x" * 199 + " "},
            "title",
            "Ensure this field has no more than 200 characters.",
        ),
        ({"title": "a\x00b"}, "title", "Null characters are not allowed."),
        ({"title": "a\ud800b"}, "title", "Surrogate characters are not allowed."),
        ({"title": "ok", "description": 7}, "description", "Must be a string."),
        ({"title": "ok", "description": None}, "description", "This field may not be null."),
        (
            {"title": "ok", "description": "a\x00"},
            "description",
            "Null characters are not allowed.",
        ),
        (
            {"title": "ok", "description": "\udc00"},
            "description",
            "Surrogate characters are not allowed.",
        ),
        ({"title": "ok", "completed": "true"}, "completed", "Must be a boolean (true or false)."),
        ({"title": "ok", "completed": 1}, "completed", "Must be a boolean (true or false)."),
        ({"title": "ok", "completed": 0}, "completed", "Must be a boolean (true or false)."),
        ({"title": "ok", "completed": None}, "completed", "This field may not be null."),
    ],
)
def test_invalid_field_is_reported_under_its_name(data, field, message):
    assert errors_of(data) == {field: [message]}


def test_title_of_exactly_the_limit_is_accepted():
    assert todo_input_validate({"title": "é" * TITLE_MAX_LENGTH})["title"] == "é" * 200


def test_unknown_fields_are_refused_alongside_other_errors():
    errors = errors_of({"title": "", "priority": 1, "id": 5})
    assert set(errors) == {"title", "priority", "id"}
    assert errors["priority"] == ["Unknown field."]


def test_unknown_field_alone_is_refused():
    assert errors_of({"title": "ok", "owner": "me"}) == {"owner": ["Unknown field."]}


@pytest.mark.parametrize("body", [["title"], "title", 42, True, None])
def test_body_that_is_not_an_object_is_refused(body):
    assert "non_field_errors" in errors_of(body)
    assert "non_field_errors" in errors_of(body, partial=True)


def test_patch_keeps_only_the_fields_sent():
    assert todo_input_validate({"completed": True}, partial=True) == {"completed": True}
    assert todo_input_validate({"title": " t "}, partial=True) == {"title": "t"}


def test_empty_patch_is_refused():
    assert errors_of({}, partial=True) == {
        "non_field_errors": ["Send at least one of: title, description, completed."]
    }


def test_patch_still_checks_types_unknown_fields_and_blank_title():
    errors = errors_of({"title": " ", "completed": "no", "x": 1}, partial=True)
    assert set(errors) == {"title", "completed", "x"}


def test_whitespace_is_what_str_strip_removes():
    assert "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()) == WHITESPACE


@pytest.mark.parametrize(
    "title",
    ["a", " a ", "\u3000a", "a\nb", "\x1f", "\ufeff", " ", "", "\t\u2028", "a\x00", "\x00"],
)
def test_title_pattern_says_what_the_server_does(title):
    # The published pattern, read by Python's `re` (as Python schema tools do), agrees with
    # the server's decision (pydantic's own regex engine) on each title.
    published = re.search(TITLE_PATTERN, title) is not None
    try:
        todo_input_validate({"title": title})
        accepted = True
    except ValidationError:
        accepted = False
    assert published == accepted
    assert published == (title.strip() != "" and "\x00" not in title)


def test_description_pattern_refuses_only_nul():
    assert re.search(DESCRIPTION_PATTERN, "any\n text\t") is not None
    assert re.search(DESCRIPTION_PATTERN, "a\x00") is None


def test_json_schemas_carry_every_rule():
    write = TodoWrite.model_json_schema(mode="validation")
    assert write["additionalProperties"] is False
    assert write["required"] == ["title"]
    title = write["properties"]["title"]
    assert (title["type"], title["minLength"], title["maxLength"]) == ("string", 1, 200)
    assert title["pattern"] == TITLE_PATTERN
    assert write["properties"]["completed"] == {
        "default": False,
        "description": "A JSON boolean.",
        "title": "Completed",
        "type": "boolean",
    }
    patch = TodoPatch.model_json_schema(mode="validation")
    assert patch["additionalProperties"] is False
    assert patch["minProperties"] == 1
    assert "required" not in patch
    assert all("default" not in prop for prop in patch["properties"].values())
