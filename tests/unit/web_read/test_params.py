"""The read API's parameter parsing: exactly the values the OpenAPI document allows."""

from __future__ import annotations

import pytest

from contracts.limits import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, TODO_ID_MAX
from web_read.errors import BadRequestError
from web_read.params import (
    ListQuery,
    parse_detail_query,
    parse_id,
    parse_list_query,
    parse_schema_format,
)


def test_an_empty_list_query_has_the_defaults():
    assert parse_list_query([]) == ListQuery(completed=None, limit=LIST_LIMIT_DEFAULT, after=None)


def test_every_list_parameter_is_parsed():
    query = [("completed", "false"), ("limit", "7"), ("after", "42")]
    assert parse_list_query(query) == ListQuery(completed=False, limit=7, after=42)


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("limit", "1", 1),
        ("limit", str(LIST_LIMIT_MAX), LIST_LIMIT_MAX),
        ("limit", "0010", 10),
        ("after", "0", 0),
        ("after", str(TODO_ID_MAX), TODO_ID_MAX),
        ("after", "000" + str(TODO_ID_MAX), TODO_ID_MAX),
    ],
)
def test_integers_in_range_are_accepted_leading_zeros_included(name, text, value):
    assert getattr(parse_list_query([(name, text)]), name) == value


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("limit", "0"),
        ("limit", str(LIST_LIMIT_MAX + 1)),
        ("after", str(TODO_ID_MAX + 1)),
        ("after", "-1"),
        ("after", "+1"),
        ("limit", " 5"),
        ("limit", "5 "),
        ("limit", "5.0"),
        ("limit", "1e2"),
        ("limit", ""),
        ("limit", "\u0665"),  # an Arabic-Indic five: str.isdigit() says yes, the schema says no
        ("after", "9" * 5000),  # past int()'s digit limit: still a 400, never a 500
    ],
)
def test_integers_out_of_range_or_not_plain_decimals_are_refused(name, text):
    with pytest.raises(BadRequestError, match=name):
        parse_list_query([(name, text)])


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False)])
def test_completed_is_true_or_false(text, value):
    assert parse_list_query([("completed", text)]).completed is value


@pytest.mark.parametrize("text", ["True", "FALSE", "1", "0", "yes", "", " true"])
def test_completed_is_nothing_else(text):
    with pytest.raises(BadRequestError, match="completed"):
        parse_list_query([("completed", text)])


def test_an_unknown_list_parameter_is_refused_by_name():
    with pytest.raises(BadRequestError, match="page_size") as caught:
        parse_list_query([("limit", "5"), ("page_size", "5")])
    assert "completed, limit, after" in caught.value.detail


def test_a_parameter_given_twice_is_refused():
    with pytest.raises(BadRequestError, match="limit must be given at most once"):
        parse_list_query([("limit", "5"), ("limit", "5")])


@pytest.mark.parametrize(("text", "value"), [("1", 1), (str(TODO_ID_MAX), TODO_ID_MAX)])
def test_an_id_in_range_is_accepted(text, value):
    assert parse_id(text) == value


@pytest.mark.parametrize("text", ["0", str(TODO_ID_MAX + 1), "-1", " 1", "1.0", "x", "9" * 5000])
def test_an_id_out_of_range_or_malformed_is_refused(text):
    with pytest.raises(BadRequestError, match="id must be an integer from 1 to"):
        parse_id(text)


def test_the_detail_takes_no_query_parameter():
    parse_detail_query([])
    with pytest.raises(BadRequestError, match="takes no query parameters"):
        parse_detail_query([("completed", "true")])


@pytest.mark.parametrize(("query", "chosen"), [([], "json"), ([("format", "yaml")], "yaml")])
def test_the_schema_format_is_json_or_yaml(query, chosen):
    assert parse_schema_format(query) == chosen


@pytest.mark.parametrize("query", [[("format", "xml")], [("fmt", "json")]])
def test_any_other_schema_format_is_refused(query):
    with pytest.raises(BadRequestError):
        parse_schema_format(query)
