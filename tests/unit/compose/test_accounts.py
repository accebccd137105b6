"""compose.accounts and its commands: the demo password, `token`, `rotate-key`."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from compose import accounts, cli
from compose.launcher import PORT_COUNT, free_ports, isolated_env
from compose.settings import Settings
from contracts import auth


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    env = isolated_env(tmp_path / "state", free_ports(PORT_COUNT))
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # what the CLI reads
    return Settings.from_env(env)


class FakeRun:
    """Stands in for subprocess.run: records each call, answers with a fixed result."""

    def __init__(self, returncode: int = 0, stdout: str = "", stderr: str = "") -> None:
        self.result = (returncode, stdout, stderr)
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append((argv, kwargs))
        code, out, err = self.result
        return subprocess.CompletedProcess(argv, code, out, err)


def test_the_demo_password_is_made_once_private_and_never_overwritten(settings: Settings):
    path = accounts.ensure_demo_password(settings)
    assert path == settings.state_dir / "secrets" / "demo_password"
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    first = path.read_text()
    assert len(first.strip()) >= 20
    assert accounts.ensure_demo_password(settings).read_text() == first
    path.write_text("chosen by the user\n")
    accounts.ensure_demo_password(settings)
    assert path.read_text() == "chosen by the user\n"


def test_two_stacks_get_different_demo_passwords(tmp_path: Path):
    first = accounts.ensure_password_file(tmp_path / "a" / "pw").read_text()
    second = accounts.ensure_password_file(tmp_path / "b" / "pw").read_text()
    assert first != second


def test_the_demo_user_is_ensured_from_the_file_with_the_stacks_environment(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    run = FakeRun()
    monkeypatch.setattr(accounts.subprocess, "run", run)
    accounts.ensure_demo_user(settings)
    ((argv, kwargs),) = run.calls
    password_file = str(accounts.demo_password_file(settings))
    assert argv[1:] == ["-m", "django", "ensure_demo_user", "--password-file", password_file]
    env = kwargs["env"]
    assert env["DJANGO_SETTINGS_MODULE"] == "cud_api.config.settings"
    assert env["POSTGRES_PORT"] == str(settings.postgres_port)
    # The password goes by file: it is in no argument and no variable.
    password = Path(password_file).read_text().strip()
    assert password not in " ".join(argv) and password not in env.values()


def test_a_failing_management_command_names_its_log(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(accounts.subprocess, "run", FakeRun(returncode=1))
    with pytest.raises(accounts.ManageError, match=r"ensure_demo_user.*migrate\.log"):
        accounts.ensure_demo_user(settings)


def test_issue_token_returns_the_commands_last_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    run = FakeRun(stdout="eyJ.a.b\n")
    monkeypatch.setattr(accounts.subprocess, "run", run)
    assert accounts.issue_token(settings) == "eyJ.a.b"
    ((argv, kwargs),) = run.calls
    assert argv[1:] == ["-m", "django", "issue_token", "demo"]
    assert kwargs["env"][auth.SIGNING_KEYS_DIR_VARIABLE] == str(settings.auth_key_dirs()[0])


@pytest.mark.parametrize(("code", "stdout"), [(1, "eyJ.half.printed\n"), (0, "")])
def test_a_failed_issue_token_raises_without_echoing_stdout(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, code: int, stdout: str
):
    monkeypatch.setattr(
        accounts.subprocess, "run", FakeRun(code, stdout, "CommandError: no user demo")
    )
    with pytest.raises(accounts.ManageError) as raised:
        accounts.issue_token(settings)
    assert "no user demo" in str(raised.value)
    assert "eyJ" not in str(raised.value)


def test_rotate_key_makes_a_new_active_key_and_keeps_the_old_public_one(settings: Settings):
    signing, verifying = settings.auth_key_dirs()
    old = auth.load_signing_key(signing).kid
    new = accounts.rotate_key(settings)
    assert new != old and auth.load_signing_key(signing).kid == new
    assert set(auth.load_verifying_keys(verifying)) == {old, new}


def test_the_token_command_prints_the_token_alone(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setattr(accounts, "issue_token", lambda s, username="demo": "eyJ.x.y")
    assert cli.main(["token"]) == 0
    assert capsys.readouterr().out == "eyJ.x.y\n"


def test_the_token_command_fails_on_stderr_with_nothing_on_stdout(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    def refuse(s: Settings, username: str = "demo") -> str:
        raise accounts.ManageError("`django issue_token demo` failed: no database")

    monkeypatch.setattr(accounts, "issue_token", refuse)
    assert cli.main(["token"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "no database" in err


def test_the_rotate_key_command_rotates_the_stacks_key(
    settings: Settings, capsys: pytest.CaptureFixture[str]
):
    signing, _ = settings.auth_key_dirs()
    old = auth.load_signing_key(signing).kid
    assert cli.main(["rotate-key"]) == 0
    new = auth.load_signing_key(signing).kid
    assert new != old and new in capsys.readouterr().out


def test_the_keys_command_needs_both_folders(tmp_path: Path):
    with pytest.raises(SystemExit):
        cli.main(["keys", "--signing", str(tmp_path / "s")])


def test_up_tells_where_the_demo_password_is_and_how_to_get_a_token(settings: Settings):
    hint = cli._token_hint(settings)
    assert str(accounts.demo_password_file(settings)) in hint
    assert "TOKEN=$(make -s token)" in hint
    assert f"http://127.0.0.1:{settings.read_api_port}/api/todos/" in hint
    assert f"$(cat {settings.metrics_scrape_token_file})" in hint
