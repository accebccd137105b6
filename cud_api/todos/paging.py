"""The list's query parameters: the contracts' `limit` + `after` + `completed`, plus `page`.

`limit`, `after` and `completed` follow `contracts.paging`, as the read API's do.
`page` and `page_size` are the list's older page-number interface, kept for its clients:
`page_size` is another name for `limit` (`limit` wins when both are sent), and `page` switches
to numbered pages over the same filtered, id-ordered list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts import paging
from contracts.limits import LIST_LIMIT_DEFAULT, TODO_ID_MAX
from cud_api.core.exceptions import ApplicationError

# The older interface's parameters beside the contract's; `page` numbers pages from 1.
PARAMETERS = (*paging.LIST_PARAMETERS, "page", "page_size")
PAGE = paging.IntegerRange(1, TODO_ID_MAX)


@dataclass(frozen=True)
class ListQuery:
    """What `GET /api/todos/` was asked for."""

    completed: bool | None = None
    limit: int = LIST_LIMIT_DEFAULT
    after: int | None = None
    page: int | None = None


def _refusal(exc: paging.QueryError) -> ApplicationError:
    # The contract's sentence as the message, and under the parameter's name when it has one.
    sentence = str(exc)
    if exc.name is None:
        return ApplicationError(sentence, {"query": [sentence]})
    detail = sentence.removeprefix(f"{exc.name} ")
    return ApplicationError(sentence, {exc.name: [detail[:1].upper() + detail[1:]]})


def list_query_parse(pairs: Iterable[tuple[str, str]]) -> ListQuery:
    """Return the list's parameters, or raise a 400 naming the bad one."""
    try:
        query = paging.collect(pairs, PARAMETERS)
        listed = paging.parse_list(query)
        limit = listed.limit
        if "limit" not in query and "page_size" in query:
            limit = paging.LIMIT.parse("page_size", query["page_size"])
        elif "page_size" in query:
            paging.LIMIT.parse("page_size", query["page_size"])  # refused even when unused
        page = PAGE.parse("page", query["page"]) if "page" in query else None
    except paging.QueryError as exc:
        raise _refusal(exc) from None
    return ListQuery(completed=listed.completed, limit=limit, after=listed.after, page=page)
