"""`GET /metrics` on the real stack: counts summed over gunicorn's workers, produce failures."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from compose.launcher import IsolatedStack
from tests.integration.cud_api.conftest import Api
from tests.support.polling import wait_for

BATCH = 24


def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the page, keyed by (name, sorted labels); scraped without a token."""
    response = api.get("/metrics", headers={"Authorization": None})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(page: dict, name: str, **labels: str) -> float:
    return page.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    return sample(after, name, **labels) - sample(before, name, **labels)


CREATED = {"route": "api:todos", "method": "POST", "status": "202"}


def create_on_a_new_connection(api: Api, index: int) -> int:
    """One create on its own connection, so gunicorn's workers share the requests."""
    response = requests.post(
        api.base_url + "/api/todos/",
        json={"title": f"metrics {index}"},
        headers={**api.user.headers(), "Connection": "close"} if api.user else {},
        timeout=30,
    )
    return response.status_code


def per_worker(stack: IsolatedStack, name: str, **labels: str) -> dict[str, float]:
    """One sample's value in each worker's own counter file (keyed by file name)."""
    values: dict[str, float] = {}
    for path in stack.settings.cud_api_metrics_dir.glob("counter_*.db"):
        for family in MultiProcessCollector.merge([str(path)]):
            for s in family.samples:
                if s.name == name and s.labels == labels:
                    values[path.name] = s.value
    return values


def test_n_creates_move_the_produced_and_request_counters_by_n_over_all_workers(
    api: Api, stack: IsolatedStack
):
    before = scrape(api)
    workers_before = per_worker(stack, "cud_api_http_requests_total", **CREATED)
    statuses: list[int] = []

    def several_workers_answered() -> bool:
        first = len(statuses)
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses.extend(
                pool.map(lambda i: create_on_a_new_connection(api, first + i), range(BATCH))
            )
        now = per_worker(stack, "cud_api_http_requests_total", **CREATED)
        return sum(1 for f, v in now.items() if v > workers_before.get(f, 0.0)) >= 2

    # Batches until at least two workers answered creates (the kernel picks the accepting one).
    wait_for(several_workers_answered, timeout=60, message="two workers answered")
    after = scrape(api)
    assert set(statuses) == {202}
    sent = len(statuses)

    assert moved(before, after, "cud_api_commands_produced_total", operation="create") == sent
    assert moved(before, after, "cud_api_http_requests_total", **CREATED) == sent
    timed = "cud_api_produce_duration_seconds_count"
    assert moved(before, after, timed, operation="create") == sent
    latency = "cud_api_http_request_duration_seconds_count"
    assert moved(before, after, latency, route="api:todos", method="POST") == sent
    # The page is the sum of the workers' files.
    workers_after = per_worker(stack, "cud_api_http_requests_total", **CREATED)
    assert sum(workers_after.values()) - sum(workers_before.values()) == sent


@pytest.mark.disruptive(stops="kafka")
def test_a_write_refused_while_kafka_is_down_is_counted_as_a_produce_failure(
    api: Api, stack: IsolatedStack
):
    assert api.post("/api/todos/", json={"title": "before"}).status_code == 202

    def failures(page: dict) -> float:
        return sum(
            value
            for (name, _labels), value in page.items()
            if name == "cud_api_produce_failures_total"
        )

    before = scrape(api)
    stack.stop("kafka")
    try:
        assert api.post("/api/todos/", json={"title": "during"}).status_code == 503
        during = scrape(api)
    finally:
        stack.start("kafka")
    assert failures(during) == failures(before) + 1
    unavailable = {"route": "api:todos", "method": "POST", "status": "503"}
    requests_total = "cud_api_http_requests_total"
    assert moved(before, during, requests_total, **unavailable) == 1
    wait_for(lambda: api.get("/health/").status_code == 200, timeout=90, message="health 200")
