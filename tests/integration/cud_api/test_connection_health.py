"""The write API's database backend judges an idle connection without a round trip.

Against the stack's PostgreSQL: a live idle connection is usable, one whose backend was
terminated is not (its termination notice made the socket readable), and a connection in a
transaction is still asked with `SELECT 1`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import django
import psycopg
import pytest
from django.db.utils import ConnectionHandler

from compose.launcher import IsolatedStack
from tests.support.polling import wait_for

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cud_api.config.settings")
django.setup()


@pytest.fixture
def wrapper(stack: IsolatedStack) -> Iterator[object]:
    """A Django connection to the stack's database through the project's backend."""
    pg = stack.addresses.postgres
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "cud_api.core.postgresql_backend",
                "HOST": pg.host,
                "PORT": pg.port,
                "NAME": pg.db,
                "USER": pg.user,
                "PASSWORD": pg.password,
            }
        }
    )
    conn = handler["default"]
    conn.ensure_connection()
    yield conn
    conn.close()


def _terminate(stack: IsolatedStack, pid: int) -> None:
    with psycopg.connect(stack.addresses.postgres.conninfo, autocommit=True) as admin:
        terminated = admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()
    assert terminated == (True,)


def test_an_idle_connection_is_usable_until_its_backend_is_terminated(wrapper, stack):
    assert wrapper.is_usable()
    assert wrapper.is_usable()  # asking again reads nothing from the socket
    _terminate(stack, wrapper.connection.info.backend_pid)
    wait_for(lambda: not wrapper.is_usable(), timeout=10, message="the terminated connection")
    wrapper.close()
    wrapper.ensure_connection()
    assert wrapper.is_usable()
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)


def test_a_connection_in_a_transaction_is_asked_with_a_query(wrapper, stack):
    wrapper.connection.execute("BEGIN")
    assert wrapper.is_usable()  # SELECT 1 inside the open transaction
    _terminate(stack, wrapper.connection.info.backend_pid)
    wait_for(lambda: wrapper.is_usable() is False, timeout=10, message="SELECT 1 failing")
