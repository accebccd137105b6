"""Requests generated from the running write API's /api/schema/, sent to that same server.

Schemathesis (its command line, the tool's stable interface) derives valid and invalid
requests from the document: boundary values and each constraint broken one at a time, then
random ones. It checks that nothing answers 5xx, that valid requests are accepted, invalid
ones refused, and that every status, body and header is the one documented. Settings in
openapi_contract.toml (seeded, a few hundred requests).

Its PUT, PATCH and DELETE requests are real: they may change todos the test user created.
It signs in as the `api` fixture's user (the bearer scheme in openapi_contract.toml), and its
sign-up and sign-in requests are real too: they make users and count failed sign-ins.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.cud_api.conftest import Api

CONFIG = Path(__file__).with_name("openapi_contract.toml")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
)
TIMEOUT_S = 300


@pytest.mark.slow
def test_write_api_keeps_its_openapi_contract(api: Api, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{api.base_url}/api/schema/?format=json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    # cwd: schemathesis keeps a cache directory where it runs.
    assert api.user is not None
    env = {**os.environ, "TODO_EDA_TEST_TOKEN": api.user.access}
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    report = run.stdout + run.stderr
    print(report[report.find("SUMMARY") :])  # shown with -s or -rP: cases generated, seed
    assert run.returncode == 0, report
    # The run reached every operation and sent requests (not an empty or refused document).
    assert "11 selected / 11 total" in report, report
    assert "passed" in report and "No issues found" in report, report
