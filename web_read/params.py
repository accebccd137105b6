"""Parsing of the read API's path and query parameters (pure, raises BadRequestError)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.limits import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX
from contracts.records import DecodeError, parse_todo_id
from web_read.errors import BadRequestError


@dataclass(frozen=True)
class ListQuery:
    """What `GET /api/todos/` was asked for."""

    completed: bool | None = None
    limit: int = LIST_LIMIT_DEFAULT
    after: int | None = None


def parse_id(text: str) -> int:
    """Return the todo id in a path, or raise BadRequestError."""
    try:
        return parse_todo_id(text)
    except DecodeError:
        raise BadRequestError("id must be a positive integer.") from None


def parse_list_query(query: Mapping[str, str]) -> ListQuery:
    """Return the list query's parameters, or raise BadRequestError naming the bad one."""
    completed: bool | None = None
    if "completed" in query:
        flag = query["completed"].strip().lower()
        if flag not in {"true", "false"}:
            raise BadRequestError("completed must be true or false.")
        completed = flag == "true"
    limit = LIST_LIMIT_DEFAULT
    if "limit" in query:
        text = query["limit"].strip()
        if not text.isdigit() or not 1 <= int(text) <= LIST_LIMIT_MAX:
            raise BadRequestError(f"limit must be an integer from 1 to {LIST_LIMIT_MAX}.")
        limit = int(text)
    after: int | None = None
    if "after" in query:
        text = query["after"].strip()
        try:
            after = parse_todo_id(text) if text != "0" else 0
        except DecodeError:
            raise BadRequestError("after must be a todo id.") from None
    return ListQuery(completed=completed, limit=limit, after=after)
