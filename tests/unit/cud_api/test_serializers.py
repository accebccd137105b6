"""Validation of todo writes: strict types, required title, no unknown fields."""

import pytest

from cud_api.todos.apis import TodoInputSerializer


def errors_of(data, *, partial=False):
    serializer = TodoInputSerializer(data=data, partial=partial)
    assert not serializer.is_valid()
    return serializer.errors


def test_create_with_only_a_title_gets_the_default_description_and_completed():
    serializer = TodoInputSerializer(data={"title": "Learn Kafka"})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {
        "title": "Learn Kafka",
        "description": "",
        "completed": False,
    }


def test_create_keeps_all_fields_sent():
    data = {"title": "Learn Kafka", "description": "  Study EDA \n", "completed": True}
    serializer = TodoInputSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    # The description is kept verbatim; only the title is trimmed.
    assert serializer.validated_data == data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": None}, "title"),
        ({"title": 42}, "title"),
        ({"title": ["a"]}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"title": "ok", "description": 7}, "description"),
        ({"title": "ok", "description": None}, "description"),
        ({"title": "ok", "completed": "true"}, "completed"),
        ({"title": "ok", "completed": 1}, "completed"),
        ({"title": "ok", "completed": None}, "completed"),
    ],
)
def test_invalid_field_is_reported_under_its_name(data, field):
    assert field in errors_of(data)


def test_title_of_exactly_200_characters_is_accepted():
    assert TodoInputSerializer(data={"title": "x" * 200}).is_valid()


def test_unknown_fields_are_refused_alongside_other_errors():
    errors = errors_of({"title": "", "priority": 1, "id": 5})
    assert set(errors) == {"title", "priority", "id"}
    assert errors["priority"] == ["Unknown field."]


def test_unknown_field_alone_is_refused():
    assert set(errors_of({"title": "ok", "owner": "me"})) == {"owner"}


@pytest.mark.parametrize("body", [["title"], "title", 42, None])
def test_body_that_is_not_an_object_is_refused(body):
    assert "non_field_errors" in errors_of(body)


def test_patch_keeps_only_the_fields_sent():
    serializer = TodoInputSerializer(data={"completed": True}, partial=True)
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"completed": True}


def test_empty_patch_is_refused():
    assert "non_field_errors" in errors_of({}, partial=True)


def test_patch_still_checks_types_and_blank_title():
    errors = errors_of({"title": " ", "completed": "no"}, partial=True)
    assert set(errors) == {"title", "completed"}
