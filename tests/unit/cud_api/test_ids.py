"""Ids reserved from the sequence in blocks: unique across threads, never shared by a fork."""

import os
import threading

import pytest
from django.db import OperationalError

from cud_api.todos.ids import IdBlockAllocator, OwnerIdBlocks
from tests.support.polling import wait_for


class FakeSequence:
    """Stands in for `nextval` over generate_series: counts round trips."""

    def __init__(self) -> None:
        self.last = 0
        self.calls = 0
        self.lock = threading.Lock()

    def reserve(self, count: int) -> list[int]:
        with self.lock:
            self.calls += 1
            ids = list(range(self.last + 1, self.last + count + 1))
            self.last += count
            return ids


def test_ids_come_in_order_from_one_round_trip_per_block():
    sequence = FakeSequence()
    allocator = IdBlockAllocator(10, reserve=sequence.reserve)
    assert [allocator.next() for _ in range(25)] == list(range(1, 26))
    assert sequence.calls == 3


def test_concurrent_threads_never_get_the_same_id():
    sequence = FakeSequence()
    allocator = IdBlockAllocator(7, reserve=sequence.reserve)
    seen: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        mine = [allocator.next() for _ in range(500)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 4001))
    assert all(i <= sequence.last for i in seen)


def test_ids_reserved_before_a_fork_are_not_handed_out_after_it(monkeypatch):
    sequence = FakeSequence()
    allocator = IdBlockAllocator(10, reserve=sequence.reserve)
    assert allocator.next() == 1
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as seen from a forked child
    assert allocator.next() == 11


def test_a_failed_refill_is_raised_and_the_next_call_tries_again():
    sequence = FakeSequence()
    failing = [True]

    def reserve(count: int) -> list[int]:
        if failing[0]:
            raise OperationalError("connection refused")
        return sequence.reserve(count)

    allocator = IdBlockAllocator(5, reserve=reserve)
    with pytest.raises(OperationalError):
        allocator.next()
    failing[0] = False
    assert allocator.next() == 1


class CountingLock:
    """A lock that counts the threads that tried to take it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts = 0

    def __enter__(self) -> None:
        self.attempts += 1
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_threads_waiting_on_a_failed_refill_fail_with_it_instead_of_retrying():
    started = threading.Event()
    release = threading.Event()
    calls = []

    def reserve(count: int) -> list[int]:
        calls.append(count)
        started.set()
        release.wait(5)
        raise OperationalError("connection timeout expired")

    allocator = IdBlockAllocator(5, reserve=reserve)
    lock = CountingLock()
    allocator._refill_lock = lock
    errors: list[Exception] = []

    def take() -> None:
        try:
            allocator.next()
        except OperationalError as exc:
            errors.append(exc)

    first = threading.Thread(target=take)
    first.start()
    started.wait(5)
    waiters = [threading.Thread(target=take) for _ in range(4)]
    for thread in waiters:
        thread.start()
    wait_for(lambda: lock.attempts == 5, timeout=5, interval=0.001, message="waiters queued")
    release.set()
    for thread in [first, *waiters]:
        thread.join(5)
    assert len(errors) == 5
    assert len(calls) == 1
    assert all("connection timeout expired" in str(e) for e in errors)


def test_block_size_must_be_positive():
    with pytest.raises(ValueError):
        IdBlockAllocator(0)


def test_each_owner_gets_a_dense_run_of_ids_from_its_own_block():
    sequence = FakeSequence()
    blocks = OwnerIdBlocks(5, reserve=sequence.reserve)
    alice = [blocks.next(7), blocks.next(7)]
    bob = [blocks.next(8)]
    alice += [blocks.next(7) for _ in range(3)]
    assert alice == [1, 2, 3, 4, 5]
    assert bob == [6]
    assert blocks.next(7) == 11  # Alice's next block starts after Bob's
    assert sequence.calls == 3


def test_owner_blocks_beyond_the_limit_are_dropped_and_their_ids_never_reused():
    sequence = FakeSequence()
    blocks = OwnerIdBlocks(10, reserve=sequence.reserve, max_owners=2)
    first = blocks.next(1)
    blocks.next(2)
    blocks.next(3)  # drops the blocks of owners 1 and 2
    again = blocks.next(1)
    assert again > 30 and again != first + 1
