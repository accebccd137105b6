"""A headless Chromium (Debian's, driven by Selenium) and what the page tests ask of it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from compose.install import CHROMEDRIVER, CHROMIUM, install_browser
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
    # A fixed size, so the pages' screenshots look the same on every machine.
    "--window-size=1280,900",
)
RENDER_TIMEOUT = 30.0


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile, logging the console and network events."""
    install_browser()  # only the browser tests need it, so `make up` does not install it
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(RENDER_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class PageLog:
    """The DevTools Network events of one page's requests, gathered as Chromium logs them."""

    def __init__(self, driver: webdriver.Chrome, page: str) -> None:
        self.driver = driver
        self.page = page
        self.urls: dict[str, str] = {}  # request id -> url
        self.done: set[str] = set()
        self.events: list[dict[str, Any]] = []

    def gather(self) -> None:
        """Take the events logged since the last call that belong to the page's requests."""
        for entry in self.driver.get_log("performance"):
            event = json.loads(entry["message"])["message"]
            params = event["params"]
            if event["method"] == "Network.requestWillBeSent":
                if params.get("documentURL") != self.page and params["requestId"] not in self.urls:
                    continue  # the browser's own pages, not the page under test
                self.urls[params["requestId"]] = params["request"]["url"]
            elif (
                not event["method"].startswith("Network.")
                or params.get("requestId") not in self.urls
            ):
                continue
            if event["method"] in ("Network.loadingFinished", "Network.loadingFailed"):
                self.done.add(params["requestId"])
            self.events.append(event)

    def settled(self) -> bool:
        """Whether every request the page made has finished or failed."""
        self.gather()
        return bool(self.urls) and self.done >= set(self.urls)

    def problems(self) -> list[str]:
        """Requests that failed, got a 4xx/5xx or left the page's origin."""
        parts = urlsplit(self.page)
        origin = f"{parts.scheme}://{parts.netloc}/"
        problems = [
            f"request outside {origin}: {url}"
            for url in self.urls.values()
            if not url.startswith((origin, "data:", "blob:"))
        ]
        for event in self.events:
            params = event["params"]
            if (
                event["method"] == "Network.responseReceived"
                and params["response"]["status"] >= 400
            ):
                problems.append(f"{params['response']['status']} for {params['response']['url']}")
            elif event["method"] == "Network.loadingFailed":
                url = self.urls[params["requestId"]]
                problems.append(f"failed to load {url}: {params['errorText']}")
        return problems


def shown(driver: webdriver.Chrome, css: str, within: WebElement | None = None) -> WebElement:
    """Wait for a visible element matching `css` (inside `within`) and return it."""
    root = within or driver

    def visible() -> WebElement | None:
        return next((e for e in root.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()), None)

    return wait_for(visible, timeout=RENDER_TIMEOUT, message=f"{css} shown")


def click(driver: webdriver.Chrome, css: str, within: WebElement | None = None) -> WebElement:
    """Wait for a visible element matching `css` (inside `within`), click it, return it."""
    element = shown(driver, css, within)
    element.click()
    return element
