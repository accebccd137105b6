"""The launcher's supervision of the isolated stack: readiness, and restart after a crash."""

from __future__ import annotations

import signal

import pytest

from compose.launcher import IsolatedStack
from compose.readiness import mongo_ping
from tests.integration.conftest import needs
from tests.support.polling import wait_for


def test_every_selected_service_is_running_and_ready(stack: IsolatedStack) -> None:
    rows = stack.status()
    for row in rows:
        if row.service in stack.services:
            assert (row.state, row.ready) == ("RUNNING", True), row


@pytest.mark.disruptive
def test_a_killed_process_is_restarted_by_the_supervisor(stack: IsolatedStack) -> None:
    needs(stack, "ferretdb")
    old_pid = stack.kill("ferretdb", signal.SIGKILL)

    def restarted() -> bool:
        pid = int(stack.stack.supervisor.info("ferretdb")["pid"])
        return pid not in (0, old_pid) and mongo_ping(stack.env["MONGO_URL"])

    wait_for(restarted, timeout=60, message="ferretdb restarted and answering")
