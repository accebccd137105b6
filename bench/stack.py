"""The stack under test: an isolated one started for the run, or the one `make up` runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from compose.launcher import IsolatedStack, StackAddresses, isolated_stack, running_stack

# A stack started for the benchmark serves the constant view the read path's baseline measures.
BENCH_ENV = {"READ_API_BENCH_PROBE": "1"}


@contextmanager
def open_stack(mode: str) -> Iterator[tuple[StackAddresses, IsolatedStack | None]]:
    """`running`: the stack `make up` runs (from the environment); `isolated`: a fresh one.

    Yields its addresses, and its controls when it is the benchmark's own (isolated) stack.
    """
    if mode == "running":
        yield running_stack(), None
        return
    if mode != "isolated":
        raise ValueError(f"BENCH_STACK must be 'isolated' or 'running', not {mode!r}")
    with isolated_stack(env=BENCH_ENV) as stack:
        yield stack.addresses, stack
