"""The isolated stack every integration test runs against, started once per session.

TODO_EDA_TEST_SERVICES (comma list, default all six) picks the services to start. The stack
runs in a temp state folder on free ports (compose.launcher.isolated_stack) and is always
stopped at the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from compose.launcher import IsolatedStack, isolated_stack
from tests.support.pipeline import Pipeline


@pytest.fixture(scope="session")
def stack() -> Iterator[IsolatedStack]:
    """Start the stack, export its addresses to os.environ, stop it whatever happens."""
    saved = dict(os.environ)
    try:
        with isolated_stack(os.environ.get("TODO_EDA_TEST_SERVICES")) as test_stack:
            os.environ.update(test_stack.env)
            yield test_stack
    finally:  # also on KeyboardInterrupt and failed start-up
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(autouse=True)
def _restore_after_disruptive(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that stops or kills a service, bring the whole stack back to ready."""
    yield
    if request.node.get_closest_marker("disruptive") is not None:
        stack: IsolatedStack = request.getfixturevalue("stack")
        stack.restore()


def needs(stack: IsolatedStack, *names: str) -> None:
    """Skip the calling test when the session's stack does not run these services."""
    missing = [name for name in names if name not in stack.services]
    if missing:
        pytest.skip(f"TODO_EDA_TEST_SERVICES does not include {', '.join(missing)}")


@pytest.fixture(scope="session")
def pipeline(stack: IsolatedStack) -> Iterator[Pipeline]:
    """Clients of the running stack, as one registered user."""
    for name in ("cud_api", "streams"):
        stack.wait_ready(name)
    clients = Pipeline(stack.addresses)
    yield clients
    clients.close()
