"""`GET /metrics`: the text format to loopback callers, 403 otherwise."""

from __future__ import annotations

from dataclasses import replace

from streams.app import settings
from web_read.metrics import is_loopback, may_scrape


async def test_a_loopback_caller_gets_the_metrics_in_the_text_format(anonymous):
    response = await anonymous.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    body = await response.text()
    assert "# TYPE todo_eda_commands_total counter" in body
    assert "todo_eda_table_recovery_done" in body


async def test_the_metrics_are_refused_when_the_loopback_rule_is_off(anonymous, monkeypatch):
    monkeypatch.setattr("web_read.metrics.settings", replace(settings, metrics_loopback=False))
    response = await anonymous.get("/metrics")
    assert response.status == 403
    assert "loopback" in (await response.json())["detail"]


def test_only_loopback_addresses_may_scrape():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.8.0.3")
    assert not is_loopback("10.0.0.7") and not is_loopback(None) and not is_loopback("nonsense")
    assert may_scrape("127.0.0.1", loopback_allowed=True)
    assert not may_scrape("127.0.0.1", loopback_allowed=False)
    assert not may_scrape("192.168.1.4", loopback_allowed=True)
