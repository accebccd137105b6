"""Walk the whole list page by page following `Link: rel="next"`, and check what it returned."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests


@dataclass(frozen=True)
class WalkCheck:
    """Whether a walk returned every expected id exactly once, in order, and nothing else."""

    ok: bool
    expected: int
    returned: int
    missing: int
    duplicates: int
    unexpected: int
    out_of_order: int
    first_problems: list[str] = field(default_factory=list)


def check_walk(expected: Sequence[int], pages: Sequence[Sequence[int]]) -> WalkCheck:
    """Compare the ids of a walk's pages with the ids that should be live, in id order."""
    returned = [todo_id for page in pages for todo_id in page]
    counts = Counter(returned)
    wanted = set(expected)
    missing = [i for i in expected if i not in counts]
    duplicates = [i for i, n in counts.items() if n > 1]
    unexpected = [i for i in counts if i not in wanted]
    out_of_order = sum(1 for a, b in itertools.pairwise(returned) if b <= a)
    problems = (
        [f"missing {i}" for i in missing[:5]]
        + [f"duplicate {i}" for i in sorted(duplicates)[:5]]
        + [f"unexpected {i}" for i in sorted(unexpected)[:5]]
    )
    ok = not missing and not duplicates and not unexpected and out_of_order == 0
    return WalkCheck(
        ok=ok,
        expected=len(expected),
        returned=len(returned),
        missing=len(missing),
        duplicates=len(duplicates),
        unexpected=len(unexpected),
        out_of_order=out_of_order,
        first_problems=problems,
    )


def _get_page(
    session: requests.Session,
    url: str,
    retries: int,
    wait_s: float,
    headers: Callable[[], dict[str, str]],
) -> requests.Response:
    """GET one page, retrying a 503 (the read side shedding load) a few times with backoff."""
    for attempt in range(retries + 1):
        response = session.get(url, headers=headers(), timeout=30)
        if response.status_code != 503 or attempt == retries:
            return response
        time.sleep(wait_s * 2**attempt)
    return response


def _no_headers() -> dict[str, str]:
    return {}


def walk(
    start_url: str,
    *,
    timeout_s: float,
    retries: int = 3,
    headers: Callable[[], dict[str, str]] = _no_headers,
) -> dict[str, Any]:
    """Follow `Link: rel="next"` from `start_url`; return the pages' ids and the walk's rate.

    `headers` is called for every page (a walk can outlive one access token).
    """
    pages: list[list[int]] = []
    url: str | None = start_url
    status: str = "complete"
    started = time.monotonic()
    with requests.Session() as session:
        while url is not None:
            if time.monotonic() - started > timeout_s:
                status = f"timed out after {timeout_s:.0f}s"
                break
            response = _get_page(session, url, retries, 0.5, headers)
            if response.status_code != 200:
                status = f"HTTP {response.status_code} at page {len(pages) + 1}"
                break
            pages.append([int(todo["id"]) for todo in response.json()])
            nxt = response.links.get("next", {}).get("url")
            url = urljoin(url, nxt) if nxt else None
    elapsed = time.monotonic() - started
    return {
        "status": status,
        "pages": len(pages),
        "seconds": elapsed,
        "pages_per_s": len(pages) / elapsed if elapsed > 0 else None,
        "page_ids": pages,
    }


def walk_and_check(
    start_url: str,
    expected: Sequence[int],
    *,
    timeout_s: float,
    headers: Callable[[], dict[str, str]] = _no_headers,
) -> dict[str, Any]:
    """Walk the list and check it against `expected`; the ids themselves are not kept."""
    done = walk(start_url, timeout_s=timeout_s, headers=headers)
    check = check_walk(expected, done.pop("page_ids"))
    return {**done, "check": asdict(check), "pass": check.ok and done["status"] == "complete"}
