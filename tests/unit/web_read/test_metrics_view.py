"""`GET /metrics` and the internal pages' access rule: loopback callers, staff, the scrape token."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import pytest

import web_read.internal
from contracts import auth
from streams.app import settings
from tests.support.clock import Clock
from web_read.errors import UnauthorizedError
from web_read.internal import is_loopback, require_internal_access


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


# The scrape token ------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def scrape_file(tmp_path, monkeypatch, clock) -> Path:
    """A scrape token file, and the read API reading it (on the test's clock)."""
    path = auth.write_secret_file(tmp_path / "secrets" / "metrics_scrape_token")
    monkeypatch.setattr(web_read.internal, "_scrape_token", auth.ScrapeToken(path, clock=clock))
    return path


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_without_the_loopback_rule_the_scrape_token_reads_the_metrics(
    anonymous, loopback_off, scrape_file
):
    response = await anonymous.get("/metrics", headers=bearer(scrape_file.read_text().strip()))
    assert response.status == 200
    assert "todo_eda_commands_total" in await response.text()


async def test_a_wrong_scrape_token_is_a_401_not_a_403(anonymous, loopback_off, scrape_file):
    wrong = secrets.token_urlsafe(32)
    response = await anonymous.get("/metrics", headers=bearer(wrong))
    assert response.status == 401
    assert (await response.json())["code"] == "token_not_valid"


async def test_an_empty_or_missing_scrape_token_file_accepts_no_token(
    anonymous, loopback_off, scrape_file, clock
):
    secret = scrape_file.read_text().strip()
    scrape_file.write_text("\n")
    assert (await anonymous.get("/metrics", headers=bearer(secret))).status == 401
    assert (await anonymous.get("/metrics", headers=bearer(""))).status == 401
    scrape_file.unlink()
    clock.now += auth.SCRAPE_TOKEN_RELOAD_SECONDS
    assert (await anonymous.get("/metrics", headers=bearer(secret))).status == 401


async def test_a_rotated_scrape_token_is_picked_up_within_the_reload_period(
    anonymous, loopback_off, scrape_file, clock
):
    old = scrape_file.read_text().strip()
    assert (await anonymous.get("/metrics", headers=bearer(old))).status == 200
    auth.write_secret_file(scrape_file)
    new = scrape_file.read_text().strip()
    assert new != old
    clock.now += auth.SCRAPE_TOKEN_RELOAD_SECONDS
    assert (await anonymous.get("/metrics", headers=bearer(new))).status == 200
    assert (await anonymous.get("/metrics", headers=bearer(old))).status == 401


class FakeRequest:
    """What require_internal_access reads of a request: its peer and its headers."""

    def __init__(self, headers: dict[str, str], remote: str = "10.0.0.7") -> None:
        self.headers = headers
        self.remote = remote


def test_the_scrape_token_opens_only_what_asks_for_it(scrape_file, tokens, deny_list):
    request = FakeRequest(bearer(scrape_file.read_text().strip()))
    require_internal_access(request, loopback_allowed=False, scrape_token_allowed=True)
    # Every other internal page (the pipeline's state, the topics) asks without the opt-in.
    with pytest.raises(UnauthorizedError):
        require_internal_access(request, loopback_allowed=False)


def test_a_process_without_the_variable_accepts_no_scrape_token(monkeypatch, tmp_path):
    path = auth.write_secret_file(tmp_path / "token")
    monkeypatch.setattr(web_read.internal, "_scrape_token", None)
    assert not web_read.internal.scrape_token({}).accepts(path.read_text().strip())
    monkeypatch.setattr(web_read.internal, "_scrape_token", None)
    named = {auth.METRICS_SCRAPE_TOKEN_FILE_VARIABLE: str(path)}
    assert web_read.internal.scrape_token(named).accepts(path.read_text().strip())
