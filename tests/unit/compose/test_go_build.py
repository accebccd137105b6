"""Go commands built at a pinned version: once per version, from a writable copy of the module."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from compose import install
from compose.settings import Settings


@pytest.fixture
def go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A fake `go`: `mod download` answers a read-only module folder, `build` writes -o."""
    module = tmp_path / "modcache" / "mod"
    (module / "cmd" / "server").mkdir(parents=True)
    (module / "cmd" / "server" / "main.go").write_text("package main\n")
    (module / "cmd" / "server" / "main.go").chmod(0o444)
    calls: list[list[str]] = []

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        if cmd[:3] == ["go", "mod", "download"]:
            return subprocess.CompletedProcess(cmd, 0, json.dumps({"Dir": str(module)}), "")
        assert cmd[:2] == ["go", "build"]
        assert (Path(kwargs["cwd"]) / "cmd" / "server" / "main.go").stat().st_mode & 0o200
        Path(cmd[cmd.index("-o") + 1]).write_text("binary")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(install.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(install.subprocess, "run", run)
    return calls


def test_toxiproxy_is_built_once_per_version_into_the_cache(
    tmp_path: Path, go: list[list[str]]
) -> None:
    settings = Settings.from_env({"TODO_EDA_CACHE_DIR": str(tmp_path / "cache")})
    binary = install.install_toxiproxy(settings)
    assert binary == tmp_path / "cache" / "bin" / "toxiproxy-server"
    assert binary.read_text() == "binary"
    assert binary.with_name("toxiproxy-server.version").read_text() == install.TOXIPROXY_VERSION
    download, build = go
    assert download[-1] == f"{install.TOXIPROXY_MODULE}@{install.TOXIPROXY_VERSION}"
    assert build[-1] == "./cmd/server"
    install.install_toxiproxy(settings)
    assert len(go) == 2  # the stamp matched: nothing downloaded or built again


def test_a_new_version_is_built_again(tmp_path: Path, go: list[list[str]]) -> None:
    binary = tmp_path / "bin" / "tool"
    install.build_go_command("example.com/tool", "v1.0.0", "./cmd/server", binary)
    install.build_go_command("example.com/tool", "v1.1.0", "./cmd/server", binary)
    assert [c[-1] for c in go if c[1] == "mod"] == [
        "example.com/tool@v1.0.0",
        "example.com/tool@v1.1.0",
    ]
    assert binary.with_name("tool.version").read_text() == "v1.1.0"


def test_a_failed_download_names_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(cmd: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, "", "not found")

    monkeypatch.setattr(install.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(install.subprocess, "run", run)
    with pytest.raises(install.InstallError, match=r"example\.com/tool.*not found"):
        install.build_go_command("example.com/tool", "v1", "./cmd/x", tmp_path / "bin" / "x")
