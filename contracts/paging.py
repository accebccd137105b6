"""The list query both APIs take (`completed`, `limit`, `after`), parsed by one set of rules.

What each OpenAPI document publishes for these parameters comes from the same ranges, so a
server accepts exactly what its schema allows: plain ASCII decimals in range, `true` or
`false`, each parameter at most once, and no parameter the operation does not name.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from contracts.limits import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, TODO_ID_MAX, TODO_ID_MIN


class QueryError(ValueError):
    """A parameter outside the contract: `name` is the parameter (None: the query), str() why."""

    def __init__(self, name: str | None, message: str) -> None:
        super().__init__(message)
        self.name = name


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
        """Return `text` as an integer in range, or raise QueryError naming `name`."""
        significant = text.lstrip("0") or "0"
        # Length first: int() of thousands of digits is slow, and past 4300 a ValueError.
        if (
            not (text.isascii() and text.isdigit())
            or len(significant) > len(str(self.maximum))
            or not self.minimum <= int(significant) <= self.maximum
        ):
            raise QueryError(
                name, f"{name} must be an integer from {self.minimum} to {self.maximum}."
            )
        return int(significant)


TODO_ID = IntegerRange(TODO_ID_MIN, TODO_ID_MAX)
LIMIT = IntegerRange(1, LIST_LIMIT_MAX)
# `after` is the id of the last todo of the previous page; 0 (or absent) starts at the first.
AFTER = IntegerRange(0, TODO_ID_MAX)
BOOLEANS = {"true": True, "false": False}
LIST_PARAMETERS = ("completed", "limit", "after")

# A query as its (name, value) pairs in order, repeats kept, so a repeat can be refused.
QueryPairs = Iterable[tuple[str, str]]


@dataclass(frozen=True)
class ListQuery:
    """What a list request asked for."""

    completed: bool | None = None
    limit: int = LIST_LIMIT_DEFAULT
    after: int | None = None


def collect(query: QueryPairs, allowed: Collection[str]) -> dict[str, str]:
    """Return the query as a dict; QueryError for a name not `allowed` or given twice."""
    found: dict[str, str] = {}
    unknown: set[str] = set()
    for name, value in query:
        if name not in allowed:
            unknown.add(name)
        elif name in found:
            raise QueryError(name, f"{name} must be given at most once.")
        found[name] = value
    if unknown:
        takes = f"takes only {', '.join(allowed)}" if allowed else "takes no query parameters"
        names = ", ".join(sorted(unknown))
        raise QueryError(None, f"Unknown query parameter {names}: this endpoint {takes}.")
    return found


def parse_completed(query: dict[str, str]) -> bool | None:
    """Return the `completed` filter (None: both), or raise QueryError."""
    if "completed" not in query:
        return None
    if query["completed"] not in BOOLEANS:
        raise QueryError("completed", "completed must be true or false.")
    return BOOLEANS[query["completed"]]


def parse_list(query: dict[str, str]) -> ListQuery:
    """Return the list parameters of a collected query, or raise QueryError naming the bad one."""
    limit = LIMIT.parse("limit", query["limit"]) if "limit" in query else LIST_LIMIT_DEFAULT
    after = AFTER.parse("after", query["after"]) if "after" in query else None
    return ListQuery(completed=parse_completed(query), limit=limit, after=after)
