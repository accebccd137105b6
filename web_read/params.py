"""Parsing of the read API's path and query parameters (pure, raises BadRequestError).

The ranges and names here are what the OpenAPI document (web_read.openapi) publishes, so
the server accepts exactly what the schema allows: plain ASCII decimals in range, `true` or
`false`, each parameter at most once, and no query parameter the operation does not name.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from contracts.limits import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, TODO_ID_MAX, TODO_ID_MIN
from web_read.errors import BadRequestError


@dataclass(frozen=True)
class IntegerRange:
    """The inclusive range of a non-negative integer parameter."""

    minimum: int
    maximum: int

    def __post_init__(self) -> None:
        """Refuse a range the digits-only parser cannot express."""
        if not 0 <= self.minimum <= self.maximum:
            raise ValueError(f"bad range {self.minimum}..{self.maximum}")

    def parse(self, name: str, text: str) -> int:
        """Return `text` as an integer in range, or raise BadRequestError naming `name`."""
        significant = text.lstrip("0") or "0"
        # Length first: int() of thousands of digits is slow, and past 4300 a ValueError.
        if (
            not (text.isascii() and text.isdigit())
            or len(significant) > len(str(self.maximum))
            or not self.minimum <= int(significant) <= self.maximum
        ):
            raise BadRequestError(
                f"{name} must be an integer from {self.minimum} to {self.maximum}."
            )
        return int(significant)


TODO_ID = IntegerRange(TODO_ID_MIN, TODO_ID_MAX)
LIMIT = IntegerRange(1, LIST_LIMIT_MAX)
# `after` is the id of the last todo of the previous page; 0 (or absent) starts at the first.
AFTER = IntegerRange(0, TODO_ID_MAX)
BOOLEANS = {"true": True, "false": False}
LIST_PARAMETERS = ("completed", "limit", "after")
SCHEMA_FORMATS = ("json", "yaml")


@dataclass(frozen=True)
class ListQuery:
    """What `GET /api/todos/` was asked for."""

    completed: bool | None = None
    limit: int = LIST_LIMIT_DEFAULT
    after: int | None = None


# A query arrives as its (name, value) pairs in order, repeats kept (aiohttp's
# `request.query.items()`), so a parameter given twice can be refused.
QueryPairs = Iterable[tuple[str, str]]


def collect(query: QueryPairs, allowed: Collection[str]) -> dict[str, str]:
    """Return the query as a dict; BadRequestError for a name not `allowed` or given twice."""
    found: dict[str, str] = {}
    unknown: set[str] = set()
    for name, value in query:
        if name not in allowed:
            unknown.add(name)
        elif name in found:
            raise BadRequestError(f"{name} must be given at most once.")
        found[name] = value
    if unknown:
        takes = f"takes only {', '.join(allowed)}" if allowed else "takes no query parameters"
        names = ", ".join(sorted(unknown))
        raise BadRequestError(f"Unknown query parameter {names}: this endpoint {takes}.")
    return found


def parse_id(text: str) -> int:
    """Return the todo id in a path, or raise BadRequestError."""
    return TODO_ID.parse("id", text)


def parse_detail_query(query: QueryPairs) -> None:
    """Refuse any query parameter on `GET /api/todos/{id}/`: it takes none."""
    collect(query, ())


def parse_list_query(pairs: QueryPairs) -> ListQuery:
    """Return the list query's parameters, or raise BadRequestError naming the bad one."""
    query = collect(pairs, LIST_PARAMETERS)
    completed: bool | None = None
    if "completed" in query:
        if query["completed"] not in BOOLEANS:
            raise BadRequestError("completed must be true or false.")
        completed = BOOLEANS[query["completed"]]
    limit = LIMIT.parse("limit", query["limit"]) if "limit" in query else LIST_LIMIT_DEFAULT
    after = AFTER.parse("after", query["after"]) if "after" in query else None
    return ListQuery(completed=completed, limit=limit, after=after)


def parse_schema_format(pairs: QueryPairs) -> str:
    """Return the OpenAPI document's requested format (`json` unless `?format=yaml`)."""
    query = collect(pairs, ("format",))
    chosen = query.get("format", "json")
    if chosen not in SCHEMA_FORMATS:
        raise BadRequestError(f"format must be one of {', '.join(SCHEMA_FORMATS)}.")
    return chosen
