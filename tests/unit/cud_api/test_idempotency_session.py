"""A database error while a key's lock may be held drops the session, which frees the lock."""

import pytest
from django.db import OperationalError

from cud_api.todos import idempotency


@pytest.fixture
def closed(monkeypatch):
    calls: list[bool] = []
    monkeypatch.setattr(idempotency.connection, "close", lambda: calls.append(True))
    return calls


def test_a_database_error_closes_the_connection_and_is_raised(closed):
    with pytest.raises(OperationalError), idempotency._session_dropped_on_error("claim a key"):
        raise OperationalError("server closed the connection")
    assert closed == [True]


def test_other_errors_leave_the_connection_open(closed):
    with pytest.raises(ValueError), idempotency._session_dropped_on_error("claim a key"):
        raise ValueError("not the database")
    assert closed == []


def test_an_unlock_that_fails_is_not_raised_and_closes_the_connection(closed, monkeypatch):
    def broken_cursor():
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(idempotency.connection, "cursor", broken_cursor)
    idempotency._key_unlock("1:key")
    assert closed == [True]
