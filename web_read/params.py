"""Parsing of the read API's path and query parameters (pure, raises BadRequestError)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streams.records import DecodeError, parse_todo_id
from web_read.errors import BadRequestError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class ListQuery:
    """What `GET /api/todos/` was asked for."""

    completed: bool | None = None
    limit: int = DEFAULT_LIMIT
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
    limit = DEFAULT_LIMIT
    if "limit" in query:
        text = query["limit"].strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
            raise BadRequestError(f"limit must be an integer from 1 to {MAX_LIMIT}.")
        limit = int(text)
    after: int | None = None
    if "after" in query:
        text = query["after"].strip()
        if not text.isdigit() or not text.isascii() or int(text) >= 2**63:
            raise BadRequestError("after must be a todo id.")
        after = int(text)
    return ListQuery(completed=completed, limit=limit, after=after)
