"""Bounds every side enforces the same way."""

from __future__ import annotations

# A todo's title, in characters (PostgreSQL column varchar(200)).
TITLE_MAX_LENGTH = 200
# A todo's description, in characters: even written as JSON `\uXXXX` escapes (6 bytes each) a
# whole todo stays below the write API's 64 KiB body limit, so the limit never bites first.
DESCRIPTION_MAX_LENGTH = 10_000
# Todo ids are positive PostgreSQL bigints.
TODO_ID_MIN = 1
TODO_ID_MAX = 2**63 - 1
# List pages: `?limit=` defaults to and is bounded by these.
LIST_LIMIT_DEFAULT = 100
LIST_LIMIT_MAX = 1000
# A dependency answering slower than this (in seconds), several times in a row, is "slow" in
# both services' /health and in `make status`: ten times what a loopback check takes on the
# loaded stack, and below the worker's 1.5 s probe timeout.
DEPENDENCY_SLOW_SECONDS = 0.5
