"""The list's query parameters and its links: the read API's `limit` + `after`, plus `page`.

`limit`, `after` and `completed` follow the read API's rules and wording (web_read/params.py).
`page` and `page_size` are the list's older page-number interface, kept for its clients:
`page_size` is another name for `limit` (`limit` wins when both are sent), and `page` switches
to numbered pages over the same filtered, id-ordered list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.limits import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX
from contracts.records import DecodeError, parse_todo_id
from cud_api.core.exceptions import ApplicationError


@dataclass(frozen=True)
class ListQuery:
    """What `GET /api/todos/` was asked for."""

    completed: bool | None = None
    limit: int = LIST_LIMIT_DEFAULT
    after: int | None = None
    page: int | None = None


def _refuse(name: str, sentence: str) -> ApplicationError:
    # The read API's sentence as the message, and capitalised under the parameter's name.
    return ApplicationError(f"{name} {sentence}.", {name: [f"{sentence.capitalize()}."]})


def _size(query: Mapping[str, str], name: str) -> int | None:
    if name not in query:
        return None
    text = query[name].strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= LIST_LIMIT_MAX:
        raise _refuse(name, f"must be an integer from 1 to {LIST_LIMIT_MAX}")
    return int(text)


def list_query_parse(query: Mapping[str, str]) -> ListQuery:
    """Return the list's parameters, or raise a 400 naming the bad one."""
    completed: bool | None = None
    if "completed" in query:
        flag = query["completed"].strip().lower()
        if flag not in {"true", "false"}:
            raise _refuse("completed", "must be true or false")
        completed = flag == "true"
    limit, page_size = _size(query, "limit"), _size(query, "page_size")
    limit = limit or page_size or LIST_LIMIT_DEFAULT
    after: int | None = None
    if "after" in query:
        text = query["after"].strip()
        try:
            after = parse_todo_id(text) if text != "0" else 0
        except DecodeError:
            raise _refuse("after", "must be a todo id") from None
    page: int | None = None
    if "page" in query:
        text = query["page"].strip()
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise _refuse("page", "must be a positive integer")
        page = int(text)
    return ListQuery(completed=completed, limit=limit, after=after, page=page)
