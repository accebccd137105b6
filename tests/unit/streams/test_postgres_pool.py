"""The command store's pool reconnects every few seconds during an outage, never later."""

from __future__ import annotations

import psycopg
import pytest

from streams.postgres import RECONNECT_MAX_DELAY_S, CappedBackoff, CommandStore, ReconnectingPool


def test_the_backoff_doubles_like_psycopg_pools_then_stops_at_the_cap():
    attempt = CappedBackoff(timeout=3600.0, maximum=2.0)
    delays = []
    for n in range(8):
        attempt.update_delay(float(n))
        delays.append(attempt.delay)
    assert 0.9 <= delays[0] <= 1.1  # psycopg_pool's first wait: 1 s with 10% jitter
    assert delays[1] == pytest.approx(min(2 * delays[0], 2.0))
    assert delays[2:] == [2.0] * 6


def test_the_backoff_still_gives_up_at_its_timeout():
    attempt = CappedBackoff(timeout=5.0, maximum=2.0)
    attempt.update_delay(0.0)
    assert not attempt.time_to_give_up(4.9)
    assert attempt.time_to_give_up(5.0)


async def test_a_failed_connection_is_tried_again_within_the_cap(monkeypatch):
    """The pool's own retry loop, with a capped attempt, whatever the number of failures."""
    store = CommandStore("host=127.0.0.1 port=1 dbname=none connect_timeout=1")
    pool = store.pool
    assert isinstance(pool, ReconnectingPool)
    scheduled: list[float] = []

    async def refuse() -> None:
        raise psycopg.OperationalError("connection refused")

    async def schedule(task: object, delay: float) -> None:
        scheduled.append(delay)
        if len(scheduled) < 10:
            await task._run(pool)  # type: ignore[attr-defined]  # AddConnection's next try

    monkeypatch.setattr(pool, "_connect", refuse)
    monkeypatch.setattr(pool, "schedule_task", schedule)
    await pool._add_connection(None)
    assert len(scheduled) == 10
    assert max(scheduled) == RECONNECT_MAX_DELAY_S
    assert all(delay <= RECONNECT_MAX_DELAY_S for delay in scheduled)


def test_the_store_waits_a_bounded_time_for_a_connection_and_checks_it():
    pool = CommandStore("host=127.0.0.1").pool
    assert pool.timeout == 10.0
    assert pool.reconnect_timeout == 3600.0
    assert pool._check is not None  # a connection that died with the server is dropped
    assert pool.kwargs["connect_timeout"] == 5
