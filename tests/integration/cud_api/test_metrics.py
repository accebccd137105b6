"""`GET /metrics` on the real stack: counts summed over gunicorn's workers, produce failures,
and who may read it (the scrape token)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from compose.launcher import IsolatedStack, free_ports, service_program, spawn, stop_spawned
from contracts import auth
from tests.integration.cud_api.conftest import Api
from tests.support.metrics_page import Samples, moved, samples_of
from tests.support.polling import wait_for

BATCH = 24


def scrape(api: Api) -> Samples:
    """Every sample of the page, keyed by name and labels; scraped without a token."""
    response = api.get("/metrics", headers={"Authorization": None})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples_of(response.text)


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


# The scrape token ------------------------------------------------------------------------------

SCRAPE_TOKEN_FILE = auth.METRICS_SCRAPE_TOKEN_FILE_VARIABLE


def launchers_scrape_token(stack: IsolatedStack) -> str:
    """The secret the launcher made for the stack (the file both APIs were told of)."""
    return Path(stack.env[SCRAPE_TOKEN_FILE]).read_text().strip()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_both_apis_answer_the_launchers_scrape_token(stack: IsolatedStack):
    secret = launchers_scrape_token(stack)
    assert secret
    for url in (stack.env["CUD_API_URL"], stack.env["READ_API_URL"]):
        response = requests.get(url + "/metrics", headers=bearer(secret), timeout=30)
        assert response.status_code == 200, (url, response.text)
        assert response.headers["Content-Type"].startswith("text/plain")
    # The write API judges a bearer before its loopback rule: another one is refused even here.
    wrong = requests.get(
        stack.env["CUD_API_URL"] + "/metrics", headers=bearer(secrets.token_urlsafe(32)), timeout=30
    )
    assert wrong.status_code == 401


@pytest.fixture
def write_api_without_loopback(stack: IsolatedStack, tmp_path: Path) -> Iterator[str]:
    """A second write API beside the stack's, with CUD_API_METRICS_LOOPBACK=0; its URL.

    Its own state folder keeps its metrics files apart from the stack's write API; it reads the
    stack's scrape token file.
    """
    port = free_ports(1)[0]
    program = service_program(
        stack.addresses,
        "cud_api",
        {
            "CUD_API_PORT": str(port),
            "CUD_API_METRICS_LOOPBACK": "0",
            "TODO_EDA_STATE_DIR": str(tmp_path),
            auth.METRICS_SCRAPE_TOKEN_FILE_VARIABLE: stack.env[
                auth.METRICS_SCRAPE_TOKEN_FILE_VARIABLE
            ],
        },
    )
    url = f"http://127.0.0.1:{port}"
    process = spawn(program, tmp_path / "cud_api.log")
    try:

        def healthy() -> bool:
            assert process.poll() is None, (tmp_path / "cud_api.log").read_text()[-2000:]
            return requests.get(url + "/health/", timeout=2).status_code == 200

        wait_for(healthy, timeout=60, message="the second write API up")
        yield url
    finally:
        stop_spawned(process, timeout=30)


def test_with_the_loopback_rule_off_only_a_credential_reads_the_write_apis_metrics(
    stack: IsolatedStack, write_api_without_loopback: str
):
    url = write_api_without_loopback + "/metrics"
    assert requests.get(url, timeout=30).status_code == 401
    assert (
        requests.get(url, headers=bearer(secrets.token_urlsafe(32)), timeout=30).status_code == 401
    )
    response = requests.get(url, headers=bearer(launchers_scrape_token(stack)), timeout=30)
    assert response.status_code == 200, response.text
    assert "cud_api_http_requests_total" in response.text


@pytest.fixture
def read_api_without_loopback(stack: IsolatedStack, tmp_path: Path) -> Iterator[str]:
    """A second worker beside the stack's, with READ_API_INTERNAL_LOOPBACK=0; its URL.

    A group, table store and MongoDB database of its own, running only the projection (as the
    benchmark's replay worker does), so the stack's worker is not rebalanced.
    """
    port = free_ports(1)[0]
    tag = uuid.uuid4().hex[:8]
    program = service_program(
        stack.addresses,
        "streams",
        {
            "READ_API_PORT": str(port),
            "READ_API_INTERNAL_LOOPBACK": "0",
            "STREAMS_APP_ID": f"scrape-test-{tag}",
            "STREAMS_AGENTS": "project_changes",
            "MONGO_DB": f"scrape_test_{tag}",
            "FAUST_DATA_DIR": str(tmp_path / "faust"),
        },
    )
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "streams.log"
    process = spawn(program, log_path)
    try:

        def answering() -> bool:
            assert process.poll() is None, log_path.read_text()[-2000:]
            return requests.get(url + "/metrics", timeout=2).status_code == 401

        wait_for(answering, timeout=120, interval=0.5, message="the second worker's web server")
        yield url
    finally:
        stop_spawned(process, timeout=60)


def test_with_the_loopback_rule_off_only_a_credential_reads_the_workers_metrics(
    stack: IsolatedStack, read_api_without_loopback: str
):
    url = read_api_without_loopback + "/metrics"
    assert requests.get(url, timeout=30).status_code == 401
    wrong = bearer(secrets.token_urlsafe(32))
    assert requests.get(url, headers=wrong, timeout=30).status_code == 401
    response = requests.get(url, headers=bearer(launchers_scrape_token(stack)), timeout=30)
    assert response.status_code == 200, response.text
    assert "todo_eda_commands_total" in response.text
