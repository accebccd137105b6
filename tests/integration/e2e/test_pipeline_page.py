"""The live pipeline page on the real stack: its JSON, the page in Chromium, several workers.

The page counts as working when it draws all nine stages from its JSON, its rates move after a
burst of writes, Debezium's stage turns failed while Kafka Connect is stopped (and ok again
after), every request it made stayed on the worker's origin and succeeded, and the console
logged no error. The screenshots the README shows are written by these tests.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver

from compose.launcher import free_ports, service_program, spawn, stop_spawned
from tests.support.browser import RENDER_TIMEOUT, PageLog
from tests.support.polling import ConditionTimeout, wait_for

N = 30
# Users of the two-worker test.
TWO_WORKER_USERS = 8
STAGES = [
    "write_api",
    "todos",
    "command_agent",
    "postgresql",
    "debezium",
    "changes",
    "cdc_agent",
    "read_model",
    "read_api",
]
IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"

State = dict[str, Any]


def state(read_url: str) -> State:
    """The worker's `/pipeline/state` (the test runs on the loopback address)."""
    response = requests.get(f"{read_url}/pipeline/state", timeout=10)
    assert response.status_code == 200, response.text
    body: State = response.json()
    return body


def stages(body: State) -> dict[str, State]:
    """The stages by id."""
    return {stage["id"]: stage for stage in body["stages"]}


def all_known(read_url: str) -> State | None:
    """The state once every stage has one (the worker has sampled twice)."""
    body = state(read_url)
    known = [s["id"] for s in body["stages"] if s["state"] != "unknown"]
    return body if known == STAGES and len(body["history"]["t"]) >= 2 else None


def test_after_n_writes_both_agents_moved_latency_was_sampled_and_lag_returns_to_0(pipeline):
    wait_for(lambda: all_known(pipeline.read_url), timeout=60, message="every stage known")
    started = time.time()
    ids = [pipeline.create(f"pipeline page {n}") for n in range(N)]
    pipeline.wait_todo(ids[-1], lambda todo: True)
    fastest = {"command_agent": 0.0, "cdc_agent": 0.0, "postgresql": 0.0, "read_model": 0.0}

    def moved() -> State | None:
        body = state(pipeline.read_url)
        if (body["sampled_at"] or 0) >= started:
            for stage_id, stage in stages(body).items():
                if stage_id in fastest:
                    fastest[stage_id] = max(fastest[stage_id], stage["rate"] or 0.0)
        history = body["history"]
        sampled = [
            p99
            for t, p99 in zip(history["t"], history["latency_p99"], strict=True)
            if t >= started and p99 is not None
        ]
        return body if all(fastest.values()) and sampled else None

    body = wait_for(moved, timeout=60, interval=0.5, message="rates above 0 and latency sampled")
    assert all(rate > 0 for rate in fastest.values()), fastest
    assert {s["state"] for s in body["stages"]} <= {"ok", "lagging"}

    def caught_up() -> State | None:
        body = state(pipeline.read_url)
        found = stages(body)
        lags = [
            found["command_agent"]["lag"],
            found["cdc_agent"]["lag"],
            body["history"]["lag"][-1],
        ]
        return body if lags == [0, 0, 0] else None

    body = wait_for(caught_up, timeout=60, interval=0.5, message="the pipeline's lag back to 0")
    found = stages(body)
    # Every partition of each topic, not an empty list read as "no lag".
    partitions = pipeline.stack.partitions
    assert found["command_agent"]["detail"] == f"lag 0 on {partitions} partitions"
    assert found["cdc_agent"]["detail"] == f"lag 0 on {partitions} partitions"
    assert found["todos"]["detail"].startswith(f"{partitions} partitions, ")
    assert found["debezium"]["detail"].startswith("connector RUNNING, 1/1 tasks")


# The page in a browser ------------------------------------------------------------------


def open_page(driver: webdriver.Chrome, read_url: str) -> PageLog:
    """Open the page after dropping what earlier pages logged; return the page's request log."""
    page = f"{read_url}/pipeline"
    driver.get("about:blank")
    driver.get_log("performance")
    driver.get_log("browser")
    log = PageLog(driver, page)
    driver.get(page)
    return log


def shown_stages(driver: webdriver.Chrome) -> dict[str, dict[str, str]]:
    """Each drawn stage box: its state attribute and the texts it shows."""
    boxes = driver.execute_script(
        """
        return Array.from(document.querySelectorAll('#stages .stage')).map(box => ({
          id: box.dataset.stage, state: box.dataset.state, cls: box.className,
          name: box.querySelector('.stage-name').textContent,
          rate: box.querySelector('.stage-rate').textContent,
          lag: box.querySelector('.stage-lag').textContent,
          detail: box.querySelector('.stage-detail').textContent,
        }));
        """
    )
    return {box["id"]: box for box in boxes}


def every_stage_shown(driver: webdriver.Chrome) -> dict[str, dict[str, str]] | None:
    """The boxes once all nine are drawn in order, each with a known state."""
    boxes = shown_stages(driver)
    if list(boxes) != STAGES or any(b["state"] == "unknown" for b in boxes.values()):
        return None
    return boxes


def page_problems(driver: webdriver.Chrome, log: PageLog) -> list[str]:
    """Failed or foreign requests of the page, and console errors."""
    wait_for(log.settled, timeout=RENDER_TIMEOUT, message="the page's requests finished")
    console = [
        f"console: {entry['message']}"
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
    ]
    return log.problems() + console


def rate_of(text: str) -> float:
    """The number of a rate as the page shows it (`12.3/s`; a dash when there is none)."""
    return float(text.removesuffix("/s")) if text.endswith("/s") else 0.0


def test_the_page_shows_every_stage_and_its_rates_move_after_a_burst(pipeline, browser):
    log = open_page(browser, pipeline.read_url)
    opened = time.monotonic()
    boxes = wait_for(lambda: every_stage_shown(browser), timeout=RENDER_TIMEOUT, message="stages")
    assert time.monotonic() - opened < 10, "the stages took more than a few seconds to show"
    assert [b["name"] for b in boxes.values()][1] == "todos"
    assert all(b["cls"] == f"stage state-{b['state']}" for b in boxes.values())
    # Idle first: the burst's rate must be a change the page shows, not one it already had.
    wait_for(
        lambda: rate_of(shown_stages(browser)["command_agent"]["rate"]) == 0.0,
        timeout=30,
        message="the command agent idle on the page",
    )
    ids = [pipeline.create(f"pipeline page burst {n}") for n in range(N)]
    fastest = dict.fromkeys(("write_api", "todos", "command_agent", "postgresql", "cdc_agent"), 0.0)
    last: list[dict[str, dict[str, str]]] = []

    def rates_moved() -> bool:
        now = shown_stages(browser)
        last[:] = [now]
        for stage_id in fastest:
            fastest[stage_id] = max(fastest[stage_id], rate_of(now[stage_id]["rate"]))
        return all(fastest.values())

    try:
        wait_for(rates_moved, timeout=45, interval=0.25, message="the burst's rates on the page")
    except AssertionError as exc:
        json_now = state(pipeline.read_url)
        raise AssertionError(
            f"{exc}; fastest seen {fastest}; last shown {last}; JSON now {json_now}"
        ) from None
    pipeline.wait_todo(ids[-1], lambda todo: True)
    wait_for(
        lambda: browser.find_elements("css selector", "#latency-chart .p99"),
        timeout=30,
        message="a latency point drawn",
    )
    IMAGES.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(IMAGES / "pipeline.png"))
    assert page_problems(browser, log) == []


@pytest.mark.disruptive(stops="connect")
def test_with_connect_stopped_the_debezium_stage_fails_and_recovers(pipeline, browser, stack):
    log = open_page(browser, pipeline.read_url)
    wait_for(lambda: every_stage_shown(browser), timeout=RENDER_TIMEOUT, message="stages")
    wait_for(
        lambda: shown_stages(browser)["debezium"]["state"] == "ok",
        timeout=30,
        message="Debezium ok on the page",
    )
    stack.stop("connect")
    try:
        stopped = time.monotonic()
        wait_for(
            lambda: stages(state(pipeline.read_url))["debezium"]["state"] == "failed",
            timeout=30,
            message="Debezium failed in the JSON",
        )
        wait_for(
            lambda: shown_stages(browser)["debezium"]["state"] == "failed",
            timeout=30 - (time.monotonic() - stopped),
            message="Debezium failed on the page",
        )
        boxes = shown_stages(browser)
        assert boxes["debezium"]["detail"].startswith("Kafka Connect unreachable")
        assert boxes["debezium"]["cls"] == "stage state-failed"
        assert boxes["write_api"]["state"] == "ok" and boxes["read_api"]["state"] == "ok"
        IMAGES.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(IMAGES / "pipeline-connect-down.png"))
        assert page_problems(browser, log) == []
    finally:
        stack.start("connect")
    wait_for(
        lambda: stages(state(pipeline.read_url))["debezium"]["state"] == "ok",
        timeout=120,
        interval=0.5,
        message="Debezium ok again in the JSON",
    )
    wait_for(
        lambda: shown_stages(browser)["debezium"]["state"] == "ok",
        timeout=30,
        message="Debezium ok again on the page",
    )


def page_status(driver: webdriver.Chrome) -> tuple[str, str]:
    """The status line's state and text."""
    element = driver.find_element("css selector", "#status")
    return element.get_attribute("data-state") or "", element.text


def all_unknown(driver: webdriver.Chrome) -> bool:
    """Whether every drawn box says its state is unknown."""
    boxes = shown_stages(driver)
    return list(boxes) == STAGES and all(b["state"] == "unknown" for b in boxes.values())


def test_the_page_shows_when_its_json_does_not_answer_and_recovers(pipeline, browser):
    open_page(browser, pipeline.read_url)
    wait_for(lambda: every_stage_shown(browser), timeout=RENDER_TIMEOUT, message="stages")
    # DevTools blocks the JSON's URL: to the page, the worker stopped answering.
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/pipeline/state*"]})
    try:
        wait_for(lambda: all_unknown(browser), timeout=10, message="every stage unknown")
        state_now, text = page_status(browser)
        assert state_now == "failed" and "does not answer" in text
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    wait_for(lambda: every_stage_shown(browser), timeout=10, message="the stages back")
    assert page_status(browser)[0] == "ok"


@pytest.mark.disruptive(stops="streams")
def test_the_page_keeps_polling_through_a_worker_restart(pipeline, browser, stack):
    open_page(browser, pipeline.read_url)
    wait_for(lambda: every_stage_shown(browser), timeout=RENDER_TIMEOUT, message="stages")
    stack.stop("streams")
    try:
        wait_for(lambda: all_unknown(browser), timeout=10, message="every stage unknown")
        assert page_status(browser)[0] == "failed"
    finally:
        stack.start("streams")
    # The same page, never reloaded, draws the restarted worker's stages.
    wait_for(lambda: every_stage_shown(browser), timeout=60, message="the stages after a restart")


# Several workers ------------------------------------------------------------------------


def workers_answering(url: str, count: int) -> State | None:
    """The state once it lists `count` workers, every one answering."""
    body = state(url)
    answering = [w for w in body["workers"] if w["answered"]]
    return body if len(body["workers"]) == count == len(answering) else None


@pytest.mark.disruptive(stops="streams")
def test_with_two_workers_either_one_shows_the_groups_lag_and_rates(pipeline, stack, tmp_path):
    port = free_ports(1)[0]
    data_dir = tmp_path / "faust"
    data_dir.mkdir()
    worker = service_program(
        stack.addresses, "streams", {"READ_API_PORT": str(port), "FAUST_DATA_DIR": str(data_dir)}
    )
    second = f"http://127.0.0.1:{port}"
    urls = (pipeline.read_url, second)
    proc = spawn(worker, tmp_path / "worker.log")
    try:
        for url in urls:
            wait_for(
                lambda url=url: workers_answering(url, 2),
                timeout=180,
                interval=1.0,
                message=f"two workers answering on {url}",
            )
        # Several users, so both workers get commands. Each owner's changes stay on one
        # partition, so only one worker writes an owner's read-model documents (on FerretDB
        # the update is no atomic compare-and-set).
        writers = [pipeline.as_user() for _ in range(TWO_WORKER_USERS)]
        started = time.time()
        fastest = {url: 0.0 for url in urls}
        seen: dict[str, Any] = {}
        written = itertools.count()

        def both_moved() -> bool:
            # A rate is one sampling interval's: keep writing until both pages have shown one,
            # so a page polled just after a quiet interval still gets its chance.
            n = next(written)
            writers[n % len(writers)].create(f"two workers {n}")
            for url in urls:
                body = state(url)
                seen[url] = {"sampled_at": body["sampled_at"], "workers": body["workers"]}
                seen[url]["command_agent"] = stages(body)["command_agent"]
                if (body["sampled_at"] or 0) >= started:
                    rate = stages(body)["command_agent"]["rate"] or 0.0
                    fastest[url] = max(fastest[url], rate)
            return all(fastest.values())

        try:
            wait_for(both_moved, timeout=60, interval=0.5, message="the command rate on both")
        except ConditionTimeout as exc:
            raise ConditionTimeout(f"{exc}; last seen: {seen}") from None
        finally:
            for writer in writers:
                writer.close()

        def caught_up_on_both() -> list[State] | None:
            bodies = [state(url) for url in urls]
            lags = [stages(b)[s]["lag"] for b in bodies for s in ("command_agent", "cdc_agent")]
            return bodies if lags == [0, 0, 0, 0] else None

        bodies = wait_for(caught_up_on_both, timeout=90, interval=0.5, message="lag 0 on both")
        partitions = stack.addresses.partitions
        for body in bodies:
            # The group's whole lag: every partition, not only the half this worker holds.
            assert stages(body)["command_agent"]["detail"] == f"lag 0 on {partitions} partitions"
            assert {w["url"] for w in body["workers"]} == {
                pipeline.read_url.replace("localhost", "127.0.0.1"),
                second,
            }
    finally:
        stop_spawned(proc, timeout=60)
        # The stack's worker restarted: taking back the second one's partitions while running,
        # faust-streaming can stall recovering them (seen once here); a fresh start recovers
        # its table the way every crash test proves, and the tests after this one need that.
        stack.stop("streams")
        stack.start("streams")
        stack.wait_ready("streams")
    wait_for(
        lambda: workers_answering(pipeline.read_url, 1),
        timeout=120,
        interval=1.0,
        message="one worker again",
    )
