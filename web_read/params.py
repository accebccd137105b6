"""Parsing of the read API's path and query parameters (pure, raises BadRequestError).

The rules are the contracts' (`contracts.paging`), shared with the write API's list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from contracts.paging import (
    LIST_PARAMETERS,
    TODO_ID,
    ListQuery,
    QueryError,
    QueryPairs,
    collect,
    parse_list,
)
from web_read.errors import BadRequestError

SCHEMA_FORMATS = ("json", "yaml")
T = TypeVar("T")


def _or_bad_request(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except QueryError as exc:
        raise BadRequestError(str(exc)) from None


def parse_id(text: str) -> int:
    """Return the todo id in a path, or raise BadRequestError."""
    return _or_bad_request(lambda: TODO_ID.parse("id", text))


def parse_detail_query(query: QueryPairs) -> None:
    """Refuse any query parameter on `GET /api/todos/{id}/`: it takes none."""
    _or_bad_request(lambda: collect(query, ()))


def parse_list_query(pairs: QueryPairs) -> ListQuery:
    """Return the list query's parameters, or raise BadRequestError naming the bad one."""
    return _or_bad_request(lambda: parse_list(collect(pairs, LIST_PARAMETERS)))


def parse_schema_format(pairs: QueryPairs) -> str:
    """Return the OpenAPI document's requested format (`json` unless `?format=yaml`)."""
    query = _or_bad_request(lambda: collect(pairs, ("format",)))
    chosen = query.get("format", "json")
    if chosen not in SCHEMA_FORMATS:
        raise BadRequestError(f"format must be one of {', '.join(SCHEMA_FORMATS)}.")
    return chosen
