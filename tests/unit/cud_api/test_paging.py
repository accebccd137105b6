"""The list's query parameters: the contracts' rules and wording (as the read API's), plus page."""

import pytest

from cud_api.core.exceptions import ApplicationError
from cud_api.todos.paging import ListQuery, list_query_parse

ID_MAX = 2**63 - 1


def parse(query: dict[str, str]) -> ListQuery:
    return list_query_parse(list(query.items()))


def refusal(query):
    with pytest.raises(ApplicationError) as caught:
        list_query_parse(list(query.items()) if isinstance(query, dict) else query)
    assert caught.value.status_code == 400
    return caught.value.message, caught.value.extra


def test_defaults():
    assert parse({}) == ListQuery(completed=None, limit=100, after=None, page=None)


def test_every_parameter_read():
    query = {"completed": "true", "limit": "5", "after": "42", "page": "3"}
    assert parse(query) == ListQuery(completed=True, limit=5, after=42, page=3)
    assert parse({"after": "0", "completed": "false"}).after == 0


def test_page_size_is_another_name_for_limit_and_limit_wins():
    assert parse({"page_size": "7"}).limit == 7
    assert parse({"page_size": "7", "limit": "9"}).limit == 9


@pytest.mark.parametrize("name", ["limit", "page_size"])
@pytest.mark.parametrize("value", ["0", "1001", "-1", "abc", "", "1.5", "٣", "²", " 5"])
def test_size_out_of_bounds_is_refused_in_the_read_apis_words(name, value):
    message, extra = refusal({name: value})
    assert message == f"{name} must be an integer from 1 to 1000."
    assert extra == {name: ["Must be an integer from 1 to 1000."]}


def test_bad_page_size_is_refused_even_next_to_a_good_limit():
    assert refusal({"limit": "5", "page_size": "0"})[1] == {
        "page_size": ["Must be an integer from 1 to 1000."]
    }


@pytest.mark.parametrize("value", ["-1", "x", "", "9223372036854775808", "1.0"])
def test_bad_after_is_refused(value):
    assert refusal({"after": value}) == (
        f"after must be an integer from 0 to {ID_MAX}.",
        {"after": [f"Must be an integer from 0 to {ID_MAX}."]},
    )


@pytest.mark.parametrize("value", ["yes", "1", "", " True ", "TRUE"])
def test_bad_completed_is_refused(value):
    assert refusal({"completed": value})[0] == "completed must be true or false."


@pytest.mark.parametrize("value", ["0", "-2", "a", ""])
def test_bad_page_is_refused(value):
    assert refusal({"page": value})[0] == f"page must be an integer from 1 to {ID_MAX}."


def test_a_parameter_given_twice_is_refused():
    assert refusal([("limit", "5"), ("limit", "6")]) == (
        "limit must be given at most once.",
        {"limit": ["Must be given at most once."]},
    )


def test_an_unknown_parameter_is_refused_naming_what_the_list_takes():
    message, extra = refusal({"colour": "red"})
    assert message == (
        "Unknown query parameter colour: this endpoint takes only "
        "completed, limit, after, page, page_size."
    )
    assert extra == {"query": [message]}
