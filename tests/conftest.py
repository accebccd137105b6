"""Test ordering: unit tests first, then integration tests, then the disruptive ones last."""

from __future__ import annotations

import pytest


def _rank(item: pytest.Item) -> int:
    marker = item.get_closest_marker("disruptive")
    if marker is not None:
        # A broker outage goes last of all: after Kafka comes back, a faust-streaming worker can
        # rejoin its group and still fetch nothing from a partition (see README, known issues),
        # and the tests after it would measure that, not what they are about.
        return 3 if marker.kwargs.get("stops") == "kafka" else 2
    return 1 if "integration" in item.path.parts else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stable sort: unit (no services) < integration < disruptive (stops or kills services)."""
    items.sort(key=_rank)
