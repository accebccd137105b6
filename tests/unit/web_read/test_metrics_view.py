"""`GET /metrics` and the internal pages' access rule: loopback callers, else staff tokens."""

from __future__ import annotations

from dataclasses import replace

import pytest

from streams.app import settings
from web_read.internal import is_loopback


async def test_a_loopback_caller_gets_the_metrics_in_the_text_format(anonymous):
    response = await anonymous.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    body = await response.text()
    assert "# TYPE todo_eda_commands_total counter" in body
    assert "todo_eda_table_recovery_done" in body


@pytest.fixture
def loopback_off(monkeypatch):
    """The internal pages with READ_API_INTERNAL_LOOPBACK=0."""
    monkeypatch.setattr("web_read.internal.settings", replace(settings, internal_loopback=False))


async def test_without_the_loopback_rule_no_token_is_a_401_with_a_challenge(
    anonymous, loopback_off
):
    response = await anonymous.get("/metrics")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["code"] == "not_authenticated"


async def test_without_the_loopback_rule_a_user_token_is_a_403(anonymous, tokens, loopback_off):
    response = await anonymous.get("/metrics", headers=tokens.header())
    assert response.status == 403
    assert "staff" in (await response.json())["detail"]


async def test_without_the_loopback_rule_a_staff_token_reads_the_metrics(
    anonymous, tokens, loopback_off
):
    staff = {"Authorization": f"Bearer {tokens.access(staff=True)}"}
    response = await anonymous.get("/metrics", headers=staff)
    assert response.status == 200
    assert "todo_eda_commands_total" in await response.text()


async def test_a_staff_claim_that_is_not_true_is_no_staff(anonymous, tokens, loopback_off):
    for value in ("true", 1, "yes"):
        headers = {"Authorization": f"Bearer {tokens.access(staff=value)}"}
        assert (await anonymous.get("/metrics", headers=headers)).status == 403


def test_only_loopback_addresses_count_as_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.8.0.3")
    assert not is_loopback("10.0.0.7") and not is_loopback(None) and not is_loopback("nonsense")
