"""Both APIs' docs pages in a real browser: Debian's Chromium, headless, driven by Selenium.

A page counts as working when Swagger UI has rendered the API's operations from the
served schema, every request the page made stayed on the API's own origin and succeeded,
and the console logged no error.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from compose.install import CHROMEDRIVER, CHROMIUM
from tests.support.polling import wait_for

# The network is closed: without these Chromium waits on outside connections (updates,
# sync, QUIC probes) and the page load hangs.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
RENDER_TIMEOUT = 30.0


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile, logging the console and network events."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} is missing: run `python -m compose install`")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chromium-profile"
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(RENDER_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _network_events(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """The DevTools Network.* events logged since the last call."""
    events = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    return [event for event in events if event["method"].startswith("Network.")]


def _rendered_paths(driver: webdriver.Chrome) -> set[str]:
    """The operation paths Swagger UI has drawn so far."""
    return {
        element.get_attribute("data-path") or ""
        for element in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }


def _problems(driver: webdriver.Chrome, origin: str) -> list[str]:
    """Requests that failed, got a 4xx/5xx or left `origin`, and console errors."""
    problems: list[str] = []
    urls: dict[str, str] = {}
    for event in _network_events(driver):
        params = event["params"]
        if event["method"] == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            if not url.startswith(("data:", "blob:")) and not url.startswith(origin):
                problems.append(f"request outside {origin}: {url}")
        elif event["method"] == "Network.responseReceived":
            if params["response"]["status"] >= 400:
                problems.append(f"{params['response']['status']} for {params['response']['url']}")
        elif event["method"] == "Network.loadingFailed":
            url = urls.get(params["requestId"], params["requestId"])
            problems.append(f"failed to load {url}: {params.get('errorText')}")
    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE":
            problems.append(f"console: {entry['message']}")
    return problems


def _open_docs(driver: webdriver.Chrome, base_url: str, expected: set[str]) -> list[str]:
    """Open `base_url`/api/docs/, wait until `expected` operations are drawn, return problems."""
    driver.get(f"{base_url}/api/docs/")
    wait_for(
        lambda: expected <= _rendered_paths(driver),
        timeout=RENDER_TIMEOUT,
        message=f"Swagger UI at {base_url}/api/docs/ drawing {sorted(expected)}",
    )
    parts = urlsplit(base_url)
    return _problems(driver, f"{parts.scheme}://{parts.netloc}/")


def test_the_read_api_docs_page_renders_its_operations_from_local_assets(pipeline, browser):
    problems = _open_docs(
        browser, pipeline.read_url, {"/api/todos/", "/api/todos/{id}/", "/todos/", "/health"}
    )
    assert problems == []
    summaries = browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-method")
    assert {element.text for element in summaries} == {"GET"}


def test_the_write_api_docs_page_renders_its_operations_from_local_assets(pipeline, browser):
    problems = _open_docs(browser, pipeline.cud_url, {"/api/todos/", "/api/todos/{todo_id}/"})
    assert problems == []
