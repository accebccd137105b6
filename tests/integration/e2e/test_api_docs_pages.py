"""Both APIs' docs pages in a real browser: Debian's Chromium, headless, driven by Selenium.

A page counts as working when Swagger UI has rendered the API's operations from the
served schema, every request the page made stayed on the API's own origin and succeeded,
and the console logged no error. Its Authorize button takes a pasted access token, and "Try it
out" on the list then answers 200 with the caller's todos.
"""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from tests.support.browser import RENDER_TIMEOUT, PageLog, click, shown
from tests.support.polling import wait_for


def _rendered_paths(driver: webdriver.Chrome) -> set[str]:
    """The operation paths Swagger UI has drawn so far."""
    return {
        element.get_attribute("data-path") or ""
        for element in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }


def _open_docs(driver: webdriver.Chrome, base_url: str, expected: set[str]) -> list[str]:
    """Open `base_url`/api/docs/, wait until it drew `expected` and settled; return problems."""
    page = f"{base_url}/api/docs/"
    # Leave the start page and drop what it logged: only the docs page's events count.
    driver.get("about:blank")
    driver.get_log("performance")
    driver.get_log("browser")
    log = PageLog(driver, page)
    driver.get(page)
    wait_for(
        lambda: expected <= _rendered_paths(driver),
        timeout=RENDER_TIMEOUT,
        message=f"Swagger UI at {page} drawing {sorted(expected)}",
    )
    wait_for(log.settled, timeout=RENDER_TIMEOUT, message=f"every request of {page} finished")
    console = [
        f"console: {entry['message']}"
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
    ]
    return log.problems() + console


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


def _operation(driver: webdriver.Chrome, method: str, path: str) -> WebElement:
    """The operation block Swagger UI drew for `method path`."""

    def found() -> WebElement | None:
        for block in driver.find_elements(By.CSS_SELECTOR, f".opblock.opblock-{method}"):
            paths = block.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
            if paths and paths[0].get_attribute("data-path") == path:
                return block
        return None

    return wait_for(found, timeout=RENDER_TIMEOUT, message=f"{method} {path} drawn")


def _authorize_and_list(driver: webdriver.Chrome, base_url: str, token: str) -> tuple[str, str]:
    """Authorize with `token`, try GET /api/todos/ out; return its status and body as shown."""
    _open_docs(driver, base_url, {"/api/todos/"})
    click(driver, ".auth-wrapper .btn.authorize")
    shown(driver, ".modal-ux input").send_keys(token)
    click(driver, ".modal-ux .auth-btn-wrapper .btn.authorize")
    click(driver, ".modal-ux .btn-done, .modal-ux .close-modal")
    block = _operation(driver, "get", "/api/todos/")
    click(driver, ".opblock-summary", within=block)
    click(driver, ".try-out__btn", within=block)
    click(driver, ".btn.execute", within=block)

    def answered() -> tuple[str, str] | None:
        cells = block.find_elements(
            By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status"
        )
        bodies = block.find_elements(By.CSS_SELECTOR, ".live-responses-table .microlight")
        if not cells or not cells[0].text.strip():
            return None
        return cells[0].text.strip(), " ".join(b.text for b in bodies)

    return wait_for(answered, timeout=RENDER_TIMEOUT, message="the list's live response")


@pytest.mark.parametrize("api", ["read", "write"])
def test_swagger_uis_authorize_takes_a_token_and_the_list_then_answers_200(
    pipeline, browser, api: str
):
    user = pipeline.as_user()  # a user of its own: the first page is all of its todos
    try:
        title = f"seen through Swagger UI {api}"
        todo_id = user.create(title)
        user.wait_todo(todo_id, lambda todo: True)
        base_url = user.read_url if api == "read" else user.cud_url
        status, body = _authorize_and_list(browser, base_url, user.auth.token())
    finally:
        user.close()
    assert status.startswith("200"), (status, body)
    assert title in body
