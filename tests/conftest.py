"""Test ordering: unit tests first, then integration tests, then the disruptive ones last."""

from __future__ import annotations

import pytest


def _rank(item: pytest.Item) -> int:
    if item.get_closest_marker("disruptive") is not None:
        return 2
    return 1 if "integration" in item.path.parts else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stable sort: unit (no services) < integration < disruptive (stops or kills services)."""
    items.sort(key=_rank)
