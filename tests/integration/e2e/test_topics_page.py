"""The topic browser on the real stack: its JSON, then the page in a real browser.

The test process calls from the loopback address, so the JSON answers it without a token.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer
from selenium import webdriver
from selenium.webdriver.common.by import By

from contracts import topics
from streams.settings import DEFAULT_APP_ID as WORKER_GROUP
from tests.support.browser import RENDER_TIMEOUT, PageLog, click, shown
from tests.support.polling import wait_for

SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "images" / "topics.png"
# Kafka's own topics, which the broker's metadata marks internal and the browser leaves out.
KAFKA_INTERNAL = {"__consumer_offsets", "__transaction_state"}
PAGE_SIZE = 20  # the JSON's default page


def get(pipeline, path: str) -> Any:
    """GET a topic browser JSON path, asserting a 200."""
    response = pipeline.http.get(f"{pipeline.read_url}{path}", timeout=10)
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()


def state(pipeline) -> dict[str, Any]:
    """The browser's topics and groups."""
    return get(pipeline, "/topics/state")


def messages(pipeline, topic: str, partition: int, query: str = "") -> dict[str, Any]:
    """One page of a partition's messages."""
    return get(pipeline, f"/topics/{topic}/{partition}/messages{query}")


def group(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The named group of a state answer."""
    return next((g for g in body["groups"] if g["group"] == name), None)


def find_command(pipeline, title: str) -> tuple[int, dict[str, Any]] | None:
    """The partition of `todos` and the decoded message whose value holds `title`."""
    todos = next(t for t in state(pipeline)["topics"] if t["name"] == topics.COMMANDS)
    for partition in todos["partitions"]:
        page = messages(pipeline, topics.COMMANDS, partition["partition"], "?limit=100")
        for message in page["messages"]:
            if title in (message["value"]["content"] or ""):
                return partition["partition"], message
    return None


def fill_every_partition(pipeline, at_least: int) -> None:
    """Write todos until each partition of `todos` holds more than one page of messages."""

    def short() -> bool:
        todos = next(t for t in state(pipeline)["topics"] if t["name"] == topics.COMMANDS)
        return any(p["end"] - p["start"] < at_least for p in todos["partitions"])

    while short():
        for n in range(10):
            pipeline.create(f"filler {uuid.uuid4().hex[:8]} {n}")


# The JSON ---------------------------------------------------------------------------------


def test_every_topic_is_listed_with_its_offsets_and_retention(pipeline):
    consumer = Consumer({"bootstrap.servers": pipeline.broker, "group.id": "unused"})
    try:
        metadata = consumer.list_topics(timeout=10)
    finally:
        consumer.close()
    expected = {name: len(t.partitions) for name, t in metadata.topics.items()}
    body = state(pipeline)
    listed = {t["name"]: t for t in body["topics"]}
    assert set(listed) == set(expected) - KAFKA_INTERNAL
    for name in (topics.COMMANDS, topics.CHANGES, topics.COMMANDS_DLQ, topics.CHANGES_DLQ):
        assert name in listed
    for name, topic in listed.items():
        assert [p["partition"] for p in topic["partitions"]] == list(range(expected[name]))
        assert all(0 <= p["start"] <= p["end"] for p in topic["partitions"]), topic
        assert topic["messages"] == sum(p["end"] - p["start"] for p in topic["partitions"])
        assert topic["settings"]["retention.ms"] is not None, name
        assert topic["settings"]["cleanup.policy"] in ("delete", "compact", "compact,delete")
    assert listed[topics.COMMANDS]["settings"]["cleanup.policy"] == "delete"
    assert listed[f"{WORKER_GROUP}-todos-changelog"]["settings"]["cleanup.policy"] == "compact"


def test_the_workers_group_shows_with_lag_0_once_writes_settle(pipeline):
    todo_id = pipeline.create(f"group lag {uuid.uuid4().hex}")
    pipeline.wait_todo(todo_id, lambda todo: True)

    def settled() -> dict[str, Any] | None:
        # Lag only counts once the group committed on both topics (a fresh stack has not yet).
        found = group(state(pipeline), WORKER_GROUP)
        if found is None or found["lag"] != 0:
            return None
        committed_on = {p["topic"] for p in found["partitions"] if p["committed"] is not None}
        return found if {topics.COMMANDS, topics.CHANGES} <= committed_on else None

    worker = wait_for(settled, message="the worker's group committed on both topics at lag 0")
    assert worker["state"] == "Stable" and worker["members"] >= 1
    assert all(p["lag"] == 0 for p in worker["partitions"])


def test_a_command_just_written_is_among_the_last_messages_of_its_partition(pipeline):
    title = f"browsed {uuid.uuid4().hex}"
    todo_id = pipeline.create(title)
    partition, message = wait_for(
        lambda: find_command(pipeline, title), message="the command among the last messages"
    )
    assert message["key"] == {
        "kind": "text",
        "content": str(todo_id),
        "size": len(str(todo_id)),
        "shown": len(str(todo_id)),
        "cut": False,
    }
    assert message["value"]["kind"] == "json" and not message["tombstone"]
    command = orjson.loads(message["value"]["content"])
    assert command["id"] == todo_id and command["operation"] == "create"
    assert command["data"]["title"] == title
    for header in message["headers"]:  # each shown by name with a decoded value
        assert header["name"] and header["value"]["kind"] in ("text", "hex", "null")
    page = messages(pipeline, topics.COMMANDS, partition)
    assert message["offset"] in [m["offset"] for m in page["messages"]]


def test_a_dead_lettered_command_shows_its_reason_header(pipeline):
    marker = uuid.uuid4().hex
    poison = f"\x00not json {marker}".encode()
    pipeline.produce(topics.COMMANDS, b"999999201", poison)

    def dead_letter() -> dict[str, Any] | None:
        dlq = next(t for t in state(pipeline)["topics"] if t["name"] == topics.COMMANDS_DLQ)
        for partition in dlq["partitions"]:
            page = messages(pipeline, topics.COMMANDS_DLQ, partition["partition"], "?limit=100")
            for message in page["messages"]:
                if message["value"]["content"] == poison.hex():
                    return message
        return None

    found = wait_for(dead_letter, message="the poison on todos.dlq")
    assert found["value"]["kind"] == "hex"  # a NUL byte: no text to show
    headers = {h["name"]: h["value"] for h in found["headers"]}
    assert headers["dlq.reason"]["kind"] == "text"
    assert "not JSON" in headers["dlq.reason"]["content"]
    assert headers["dlq.topic"]["content"] == topics.COMMANDS


def test_paging_by_before_returns_the_previous_page_without_overlap(pipeline):
    fill_every_partition(pipeline, at_least=12)
    newest = messages(pipeline, topics.COMMANDS, 0, "?limit=5")
    older = messages(pipeline, topics.COMMANDS, 0, f"?limit=5&before={newest['next_before']}")
    newer_offsets = [m["offset"] for m in newest["messages"]]
    older_offsets = [m["offset"] for m in older["messages"]]
    end = newest["end"]
    # `todos` is never compacted: each page is the five offsets before the previous one.
    assert newer_offsets == list(range(end - 1, end - 6, -1))
    assert older_offsets == list(range(end - 6, end - 11, -1))
    assert older["next_before"] == end - 10


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/topics/todos/0/messages?limit=0", 400, "limit must be an integer from 1 to 100"),
        ("/topics/todos/0/messages?limit=101", 400, "limit must be an integer from 1 to 100"),
        ("/topics/todos/0/messages?before=-3", 400, "before must be an integer"),
        ("/topics/todos/0/messages?before=x", 400, "before must be an integer"),
        ("/topics/todos/zero/messages", 400, "partition must be an integer"),
        ("/topics/no-such-topic/0/messages", 404, "No topic named 'no-such-topic'."),
        ("/topics/todos/99/messages", 404, "there is no partition 99"),
    ],
)
def test_bad_parameters_are_a_json_400_or_404(pipeline, path: str, status: int, detail: str):
    response = pipeline.http.get(f"{pipeline.read_url}{path}", timeout=10)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert detail in response.json()["detail"]


# The page ---------------------------------------------------------------------------------


def _rows_text(driver: webdriver.Chrome) -> list[tuple[int, str]]:
    """The messages table's rows as (offset, text)."""
    return [
        (int(row.get_attribute("data-offset") or -1), row.text)
        for row in driver.find_elements(By.CSS_SELECTOR, "#messages tbody tr[data-offset]")
    ]


def test_the_page_lists_topics_and_groups_and_finds_a_message_just_written(pipeline, browser):
    fill_every_partition(pipeline, at_least=PAGE_SIZE + 1)
    title = f"seen in the topic browser {uuid.uuid4().hex[:8]}"
    pipeline.create(title)
    partition, message = wait_for(
        lambda: find_command(pipeline, title), message="the command among the last messages"
    )
    wait_for(lambda: group(state(pipeline), WORKER_GROUP), message="the worker's group listed")

    page = f"{pipeline.read_url}/topics"
    browser.get("about:blank")
    browser.get_log("performance")
    browser.get_log("browser")
    log = PageLog(browser, page)
    browser.get(page)
    for name in (topics.COMMANDS, topics.CHANGES, topics.COMMANDS_DLQ):
        shown(browser, f'#topics tr[data-topic="{name}"]')
    worker = shown(browser, f'#groups tr[data-group="{WORKER_GROUP}"]')
    assert "Stable" in worker.text

    click(browser, f'button.partition[data-topic="todos"][data-partition="{partition}"]')
    wait_for(
        lambda: any(title in text for _, text in _rows_text(browser)),
        timeout=RENDER_TIMEOUT,
        message="the command's row with its title",
    )
    newest = _rows_text(browser)
    assert len(newest) == PAGE_SIZE
    assert any(offset == message["offset"] and title in text for offset, text in newest)
    browser.set_window_size(1280, 1700)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))

    click(browser, "#older")
    oldest_shown = min(offset for offset, _ in newest)
    wait_for(
        lambda: _rows_text(browser) and max(o for o, _ in _rows_text(browser)) < oldest_shown,
        timeout=RENDER_TIMEOUT,
        message="the older page",
    )
    older = [offset for offset, _ in _rows_text(browser)]
    assert older == list(range(oldest_shown - 1, oldest_shown - 1 - len(older), -1))
    assert older and not set(older) & {offset for offset, _ in newest}

    wait_for(log.settled, timeout=RENDER_TIMEOUT, message=f"every request of {page} finished")
    console = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert log.problems() == [] and console == []
