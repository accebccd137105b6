"""Unit tests of the write API: Django configured, no PostgreSQL, no Kafka.

Tokens are signed with a key pair made for the session in a temp folder; users live in a
dict in place of the user table (`accounts`).
"""

import os
import secrets
import tempfile
from pathlib import Path

import django
import pytest
from django.conf import settings

from contracts import auth

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cud_api.config.settings")
django.setup()
# Set on the settings object, not in os.environ, so they never leak into a stack the
# integration tests start from this same process.
settings.SECRET_KEY = secrets.token_urlsafe(50)
_KEYS = Path(tempfile.mkdtemp(prefix="cud-api-unit-keys-"))
settings.AUTH_SIGNING_KEYS_DIR = str(_KEYS / "signing")
settings.AUTH_VERIFYING_KEYS_DIR = str(_KEYS / "verifying")
KID = auth.generate_key(_KEYS / "signing", _KEYS / "verifying")

from django.contrib.auth.models import User  # noqa: E402  (needs django.setup())

from cud_api.accounts import authentication  # noqa: E402
from cud_api.accounts.tokens import AccessToken  # noqa: E402

ALICE_ID = 7
BOB_ID = 8


class FakeUsers:
    """The user cache's interface over a dict, so no database is needed."""

    def __init__(self) -> None:
        self.rows: dict[int, User] = {}

    def add(self, user_id: int, username: str, *, active: bool = True) -> User:
        user = User(pk=user_id, username=username, is_active=active)
        self.rows[user_id] = user
        return user

    def get(self, user_id: int) -> User | None:
        return self.rows.get(user_id)


@pytest.fixture(autouse=True)
def users(monkeypatch):
    """Alice (id 7) and Bob (id 8), active; tests may add, deactivate or remove users."""
    fake = FakeUsers()
    fake.add(ALICE_ID, "alice")
    fake.add(BOB_ID, "bob")
    monkeypatch.setattr(authentication, "users", fake)
    return fake


def bearer(user: User) -> dict[str, str]:
    """Django test client keyword arguments that authenticate as `user`."""
    return {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(user)}"}


@pytest.fixture(autouse=True)
def fresh_kafka_link(monkeypatch):
    """Each test's publisher sees Kafka up: a failed delivery in one test marks the process's
    link down, which would make the next test's write probe the broker first."""
    from cud_api.core.dependency_link import DependencyLink
    from cud_api.todos import commands

    monkeypatch.setattr(commands, "KAFKA", DependencyLink("Kafka"))
