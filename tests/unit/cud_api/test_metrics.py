"""The write API's metrics: request labels, who may read `/metrics`, the produce counters."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError
from django.test import Client, override_settings
from prometheus_client import REGISTRY

from contracts import auth
from cud_api.core.exceptions import DependencyUnavailableError
from cud_api.metrics import apis as metrics_apis
from cud_api.metrics.apis import is_loopback
from cud_api.metrics.middleware import UNMATCHED_ROUTE, method_label
from cud_api.todos import apis
from cud_api.todos.commands import CommandPublisher, delivery_failure_reason
from tests.support.clock import Clock
from tests.unit.cud_api.conftest import ALICE_ID, bearer


def value(name: str, **labels: str) -> float:
    """A sample of the default registry (unit tests run without multiprocess mode), 0 if none."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def client() -> Client:
    return Client(HTTP_HOST="localhost", raise_request_exception=False)


@pytest.fixture(autouse=True)
def no_todos(monkeypatch):
    monkeypatch.setattr(apis, "todo_list", lambda **kwargs: [])


# Labels --------------------------------------------------------------------------------------


def test_a_request_is_counted_under_its_route_name_method_and_status(client, users):
    labels = {"route": "api:todos", "method": "GET", "status": "200"}
    before = value("cud_api_http_requests_total", **labels)
    samples = value("cud_api_http_request_duration_seconds_count", route="api:todos", method="GET")
    response = client.get("/api/todos/", **bearer(users.get(ALICE_ID)))
    assert response.status_code == 200
    assert value("cud_api_http_requests_total", **labels) == before + 1
    assert (
        value("cud_api_http_request_duration_seconds_count", route="api:todos", method="GET")
        == samples + 1
    )


def test_a_todo_path_is_labelled_by_its_pattern_not_its_id(client):
    labels = {"route": "api:todo", "method": "GET", "status": "401"}
    before = value("cud_api_http_requests_total", **labels)
    client.get("/api/todos/123/")
    client.get("/api/todos/456/")
    assert value("cud_api_http_requests_total", **labels) == before + 2
    exposed = REGISTRY.get_sample_value  # no label value carries a raw path
    assert exposed("cud_api_http_requests_total", {**labels, "route": "/api/todos/123/"}) is None


def test_an_unmatched_path_and_an_oversized_body_share_one_route_value(client):
    not_found = {"route": UNMATCHED_ROUTE, "method": "GET", "status": "404"}
    too_large = {"route": UNMATCHED_ROUTE, "method": "POST", "status": "413"}
    before_404 = value("cud_api_http_requests_total", **not_found)
    before_413 = value("cud_api_http_requests_total", **too_large)
    assert client.get("/no/such/path/x1").status_code == 404
    response = client.generic(
        "POST", "/api/todos/", b"{}", content_type="application/json", CONTENT_LENGTH="10000000"
    )
    assert response.status_code == 413
    assert value("cud_api_http_requests_total", **not_found) == before_404 + 1
    assert value("cud_api_http_requests_total", **too_large) == before_413 + 1


def test_unknown_methods_collapse_into_other():
    assert method_label("POST") == "POST"
    assert method_label("PROPFIND") == "other"
    assert method_label("get") == "other"
    assert method_label(None) == "other"


def test_loopback_addresses_are_recognised():
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.8.9.10")
    assert is_loopback("::1")
    assert is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("10.0.0.5")
    assert not is_loopback("::ffff:10.0.0.5")
    assert not is_loopback("")
    assert not is_loopback(None)
    assert not is_loopback("localhost")


# Who may look --------------------------------------------------------------------------------

REMOTE = {"REMOTE_ADDR": "10.1.2.3"}


def test_a_loopback_scraper_reads_the_page_without_a_token(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_ACCEPT="text/plain")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE cud_api_http_requests_total counter" in response.content


def test_a_prometheus_accept_header_gets_the_text_page(client):
    accept = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.2"
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert b"cud_api_commands_produced" in response.content


def test_a_remote_client_without_a_token_gets_401_in_the_envelope(client):
    response = client.get("/metrics", **REMOTE)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["status_code"] == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_remote_non_staff_user_gets_403_in_the_envelope(client, users):
    response = client.get("/metrics", **REMOTE, **bearer(users.get(ALICE_ID)))
    assert response.status_code == 403
    assert response.json()["status_code"] == 403


def test_a_remote_staff_user_reads_the_page(client, users):
    staff = users.add(9, "operator")
    staff.is_staff = True
    response = client.get("/metrics", **REMOTE, **bearer(staff))
    assert response.status_code == 200
    assert b"cud_api_http_request_duration_seconds_bucket" in response.content


@override_settings(CUD_API_METRICS_LOOPBACK=False)
def test_with_the_loopback_setting_off_loopback_needs_a_staff_token_too(client, users):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401
    alice = bearer(users.get(ALICE_ID))
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", **alice).status_code == 403
    staff = users.add(9, "operator")
    staff.is_staff = True
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", **bearer(staff)).status_code == 200


# The scrape token ----------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def scrape_file(tmp_path, monkeypatch, clock) -> Iterator[Path]:
    """A scrape token file the write API reads (on the test's clock), loopback rule off."""
    path = auth.write_secret_file(tmp_path / "secrets" / "metrics_scrape_token")
    monkeypatch.setattr(
        metrics_apis, "_scrape_tokens", {str(path): auth.ScrapeToken(path, clock=clock)}
    )
    with override_settings(METRICS_SCRAPE_TOKEN_FILE=str(path), CUD_API_METRICS_LOOPBACK=False):
        yield path


def scrape_bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_the_scrape_token_reads_the_page_from_anywhere(client, scrape_file):
    secret = scrape_file.read_text().strip()
    for address in ("10.1.2.3", "127.0.0.1"):
        response = client.get("/metrics", REMOTE_ADDR=address, **scrape_bearer(secret))
        assert response.status_code == 200, address
        assert b"cud_api_http_requests_total" in response.content


def test_a_wrong_scrape_token_is_a_401_not_a_403(client, scrape_file):
    response = client.get("/metrics", **REMOTE, **scrape_bearer(secrets.token_urlsafe(32)))
    assert response.status_code == 401
    assert response.json()["status_code"] == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_empty_or_missing_scrape_token_file_accepts_no_token(client, scrape_file, clock):
    secret = scrape_file.read_text().strip()
    scrape_file.write_text("")
    assert client.get("/metrics", **REMOTE, **scrape_bearer(secret)).status_code == 401
    scrape_file.unlink()
    clock.now += auth.SCRAPE_TOKEN_RELOAD_SECONDS
    assert client.get("/metrics", **REMOTE, **scrape_bearer(secret)).status_code == 401


def test_a_rotated_scrape_token_is_picked_up_within_the_reload_period(client, scrape_file, clock):
    old = scrape_file.read_text().strip()
    assert client.get("/metrics", **REMOTE, **scrape_bearer(old)).status_code == 200
    auth.write_secret_file(scrape_file)
    new = scrape_file.read_text().strip()
    assert new != old
    clock.now += auth.SCRAPE_TOKEN_RELOAD_SECONDS
    assert client.get("/metrics", **REMOTE, **scrape_bearer(new)).status_code == 200
    assert client.get("/metrics", **REMOTE, **scrape_bearer(old)).status_code == 401


def test_the_scrape_token_opens_no_other_route(client, scrape_file):
    secret = scrape_file.read_text().strip()
    response = client.get("/api/todos/", **REMOTE, **scrape_bearer(secret))
    assert response.status_code == 401


@override_settings(METRICS_SCRAPE_TOKEN_FILE="", CUD_API_METRICS_LOOPBACK=False)
def test_without_a_scrape_token_file_no_bearer_passes_as_one(client):
    assert metrics_apis.scrape_token().path is None
    assert client.get("/metrics", **REMOTE, **scrape_bearer("anything")).status_code == 401


# Produce metrics -----------------------------------------------------------------------------


class FakeMessage:
    def topic(self) -> str:
        return "todos"

    def partition(self) -> int:
        return 1

    def offset(self) -> int:
        return 41


class FakeProducer:
    """Answers produce() at once with the configured verdict, as librdkafka's poller would."""

    def __init__(self, *, error: KafkaError | None = None, raises: Exception | None = None):
        self.error = error
        self.raises = raises

    def produce(self, topic: str, *, value: bytes, key: bytes, on_delivery: Any) -> None:
        if self.raises is not None:
            raise self.raises
        on_delivery(self.error, FakeMessage())


def publisher(producer: FakeProducer) -> CommandPublisher:
    """A publisher over a fake producer (no librdkafka, no poller thread)."""
    instance = CommandPublisher.__new__(CommandPublisher)
    instance.producer = producer  # type: ignore[assignment]
    return instance


def publish(target: CommandPublisher, operation: str) -> Any:
    return target.publish(topic="todos", key=b"1", value=b"{}", timeout=1.0, operation=operation)


def test_an_acknowledged_command_is_counted_and_timed_under_its_operation():
    produced = value("cud_api_commands_produced_total", operation="update")
    timed = value("cud_api_produce_duration_seconds_count", operation="update")
    delivery = publish(publisher(FakeProducer()), "update")
    assert delivery.offset == 41
    assert value("cud_api_commands_produced_total", operation="update") == produced + 1
    assert value("cud_api_produce_duration_seconds_count", operation="update") == timed + 1


@pytest.mark.parametrize(
    ("producer", "reason"),
    [
        (FakeProducer(raises=BufferError("full")), "queue_full"),
        (FakeProducer(error=KafkaError(KafkaError._MSG_TIMED_OUT)), "delivery_msg_timed_out"),
        (
            FakeProducer(error=KafkaError(KafkaError.NOT_ENOUGH_REPLICAS)),
            "delivery_not_enough_replicas",
        ),
    ],
)
def test_a_refused_command_is_a_503_counted_by_reason_and_not_as_produced(producer, reason):
    failures = value("cud_api_produce_failures_total", reason=reason)
    produced = value("cud_api_commands_produced_total", operation="delete")
    with pytest.raises(DependencyUnavailableError):
        publish(publisher(producer), "delete")
    assert value("cud_api_produce_failures_total", reason=reason) == failures + 1
    assert value("cud_api_commands_produced_total", operation="delete") == produced


def test_a_write_refused_at_admission_while_kafka_is_down_is_one_produce_failure():
    from cud_api.todos import commands

    commands.KAFKA.failed("Connection refused")
    failures = value("cud_api_produce_failures_total", reason="unreachable")
    with pytest.raises(DependencyUnavailableError):
        commands.command_admission_check()
    assert value("cud_api_produce_failures_total", reason="unreachable") == failures + 1


def test_a_publish_refused_while_kafka_is_down_is_one_produce_failure():
    from cud_api.todos import commands

    commands.KAFKA.failed("Connection refused")
    failures = value("cud_api_produce_failures_total", reason="unreachable")
    with pytest.raises(DependencyUnavailableError):
        publish(publisher(FakeProducer()), "create")
    assert value("cud_api_produce_failures_total", reason="unreachable") == failures + 1


def test_a_delivery_failure_without_an_error_has_a_fixed_reason():
    assert delivery_failure_reason(None) == "delivery_unknown"


# gunicorn's hook ------------------------------------------------------------------------------


class FakeWorker:
    pid = 4242


def test_a_dead_workers_live_gauges_are_dropped_and_its_counts_kept(tmp_path, monkeypatch):
    from cud_api.config.gunicorn import child_exit

    for name in ("gauge_livesum_4242.db", "counter_4242.db", "gauge_livesum_4343.db"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    child_exit(None, FakeWorker())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "counter_4242.db",
        "gauge_livesum_4343.db",
    ]


def test_a_starting_master_empties_the_folder_of_metric_files_only(tmp_path, monkeypatch):
    from cud_api.config.gunicorn import on_starting

    folder = tmp_path / "metrics"
    folder.mkdir()
    for name in ("counter_1.db", "histogram_2.db", "notes.txt"):
        (folder / name).write_bytes(b"x")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    on_starting(None)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_a_starting_master_creates_a_missing_folder(tmp_path, monkeypatch):
    from cud_api.config.gunicorn import on_starting

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "new" / "metrics"))
    on_starting(None)
    assert (tmp_path / "new" / "metrics").is_dir()


def test_the_hooks_do_nothing_in_single_process_mode(monkeypatch):
    from cud_api.config.gunicorn import child_exit, on_starting

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    on_starting(None)  # neither raises on the missing folder
    child_exit(None, FakeWorker())


def test_a_bad_token_is_401_even_from_loopback(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer a.b.c")
    assert response.status_code == 401
    assert response.json()["status_code"] == 401


# The switch (TODO_EDA_METRICS=0) --------------------------------------------------------------

# Settings and URLs are read once at start-up, so the switch is tried in a fresh interpreter.
SWITCHED_OFF_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
response = Client(HTTP_HOST="localhost").get("/metrics", REMOTE_ADDR="127.0.0.1")
print(json.dumps({
    "middleware": settings.MIDDLEWARE,
    "status": response.status_code,
    "type": response["Content-Type"],
    "body": response.content.decode(),
}))
"""


def _write_api_with(metrics: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "TODO_EDA_METRICS": metrics,
        "DJANGO_SETTINGS_MODULE": "cud_api.config.settings",
        "DJANGO_SECRET_KEY": "unit-test-only-secret-key-unit-test-only-secret-key",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", SWITCHED_OFF_PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_with_the_metrics_off_the_write_api_has_no_middleware_and_no_metrics_route():
    off = _write_api_with("0")
    assert "cud_api.metrics.middleware.RequestMetricsMiddleware" not in off["middleware"]
    assert off["status"] == 404 and off["type"] == "application/json"
    assert json.loads(off["body"])["status_code"] == 404
    on = _write_api_with("1")
    assert on["middleware"][0] == "cud_api.metrics.middleware.RequestMetricsMiddleware"
    assert on["status"] == 200 and "cud_api_commands_produced" in on["body"]


@override_settings(METRICS_ON=False)
def test_with_the_metrics_off_a_command_is_neither_counted_nor_timed():
    produced = value("cud_api_commands_produced_total", operation="update")
    timed = value("cud_api_produce_duration_seconds_count", operation="update")
    failures = value("cud_api_produce_failures_total", reason="queue_full")
    assert publish(publisher(FakeProducer()), "update").offset == 41
    with pytest.raises(DependencyUnavailableError):
        publish(publisher(FakeProducer(raises=BufferError("full"))), "update")
    assert value("cud_api_commands_produced_total", operation="update") == produced
    assert value("cud_api_produce_duration_seconds_count", operation="update") == timed
    assert value("cud_api_produce_failures_total", reason="queue_full") == failures


def test_with_the_metrics_off_the_gunicorn_hooks_leave_the_folder_alone(tmp_path, monkeypatch):
    from cud_api.config.gunicorn import child_exit, on_starting

    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"x")
    (folder / "gauge_livesum_4242.db").write_bytes(b"x")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    monkeypatch.setenv("TODO_EDA_METRICS", "0")
    on_starting(None)
    child_exit(None, FakeWorker())
    assert sorted(p.name for p in folder.iterdir()) == ["counter_1.db", "gauge_livesum_4242.db"]
    monkeypatch.setenv("TODO_EDA_METRICS", "1")
    on_starting(None)
    assert list(folder.iterdir()) == []
