"""The browser fixture of the end-to-end tests (the `pipeline` fixture is tests/integration's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from tests.support.browser import chromium


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile, installed on first use."""
    with chromium(tmp_path / "chromium-profile") as driver:
        yield driver
