"""Kafka's storage format command: the cluster id reaches it as one argument, whatever it is."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from compose import kafka
from compose.settings import Settings


def test_a_cluster_id_starting_with_a_dash_is_passed_as_the_options_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env({"TODO_EDA_STATE_DIR": str(tmp_path)})
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / "cluster.id").write_text("-5Yb0pTtRlKc2mV7hWQy3g\n")
    seen: list[list[str]] = []

    def run(cmd: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(kafka.subprocess, "run", run)
    kafka.prepare_kafka(settings)
    (cmd,) = seen
    assert "--cluster-id=-5Yb0pTtRlKc2mV7hWQy3g" in cmd
    assert "-t" not in cmd
