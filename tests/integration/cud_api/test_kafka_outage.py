"""With the broker stopped: 503 + Retry-After, nothing reported as queued; then normal service."""

import pytest

from tests.support.metrics_page import samples_of, value
from tests.support.polling import wait_for

UNREACHABLE = {"dependency": "kafka", "reason": "unreachable"}


def refused_as_unreachable(api) -> float:
    """The write API's refusals of writes made while it knew Kafka to be down."""
    page = samples_of(api.get("/metrics", headers={"Authorization": None}).text)
    return value(page, "cud_api_write_refusals_total", **UNREACHABLE)


@pytest.mark.disruptive(stops="kafka")
def test_writes_get_503_while_kafka_is_down_and_202_after_it_returns(api, stack):
    assert api.post("/api/todos/", json={"title": "before"}).status_code == 202
    stack.stop("kafka")
    try:
        response = api.post("/api/todos/", json={"title": "during"})
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        body = response.json()
        assert body["status"] == "error"
        assert body["status_code"] == 503
        assert "kafka" in body["errors"]
        assert "queued" not in body["message"]

        # Once a worker knows Kafka is down it refuses writes at once, counted as "unreachable",
        # instead of each waiting out the delivery timeout.
        before = refused_as_unreachable(api)

        def refused_without_waiting_for_delivery() -> bool:
            assert api.post("/api/todos/", json={"title": "during"}).status_code == 503
            return refused_as_unreachable(api) > before

        wait_for(refused_without_waiting_for_delivery, timeout=60, message="a fast refusal")

        health = api.get("/health/")
        assert health.status_code == 503
        assert health.json()["message"] == "Unavailable: kafka"
        assert health.json()["data"]["kafka"]["status"] == "down"
        assert health.json()["data"]["postgres"]["status"] == "up"
        assert health.headers["Retry-After"]

        # Reads come from PostgreSQL and keep working.
        assert api.get("/api/todos/").status_code == 200
    finally:
        stack.start("kafka")

    wait_for(lambda: api.get("/health/").status_code == 200, timeout=90, message="health 200")
    after = wait_for(
        lambda: (r := api.post("/api/todos/", json={"title": "after"})).status_code == 202 and r,
        timeout=60,
        message="writes accepted again",
    )
    assert after.json()["message"] == "Todo create successfully queued"
