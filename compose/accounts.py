"""The stack's users and keys: the demo user, a token for it, a new signing key.

Each runs one of the write API's management commands with the stack's own environment, as
the migrations are run. Passwords travel in a file (mode 600) and tokens on stdout: neither
reaches a log line.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from compose.settings import REPO_ROOT, Settings
from contracts import auth

DEMO_USERNAME = "demo"
DEMO_PASSWORD_FILE = "secrets/demo_password"  # noqa: S105 (a path inside the state folder)
# Variables a management command needs from the caller's environment besides the stack's.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")


class ManageError(RuntimeError):
    """A management command failed; the message says which and where its output went."""


def base_env() -> dict[str, str]:
    """The few variables of the caller's environment every child process keeps."""
    return {k: v for k, v in os.environ.items() if k in _INHERITED}


def manage(settings: Settings, *args: str, log_name: str = "migrate") -> None:
    """Run `python -m django <args>` with the stack's environment, output to a log file."""
    log_file = settings.log_file(log_name)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as out:
        result = subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=REPO_ROOT,
            env={**base_env(), **settings.process_env()},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        tail = "\n".join(log_file.read_text().splitlines()[-20:])
        raise ManageError(f"`django {args[0]}` failed (see {log_file}):\n{tail}")


def demo_password_file(settings: Settings) -> Path:
    """Where the demo user's password lives: `<state>/secrets/demo_password`."""
    return settings.state_dir / DEMO_PASSWORD_FILE


def ensure_demo_password(settings: Settings) -> Path:
    """Generate the demo user's password once (mode 600); never overwrite it; return its path."""
    return ensure_password_file(demo_password_file(settings))


def ensure_password_file(path: Path) -> Path:
    """Write a random password into `path` (mode 600, folder 700) unless it exists; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(24) + "\n")
    return path


def ensure_demo_user(settings: Settings) -> None:
    """Create or activate user `demo` with the state folder's password (idempotent)."""
    path = ensure_demo_password(settings)
    manage(settings, "ensure_demo_user", "--password-file", str(path))


def issue_token(settings: Settings, username: str = DEMO_USERNAME) -> str:
    """Return a fresh access token for `username`, minted by the write API's own code."""
    result = subprocess.run(
        [sys.executable, "-m", "django", "issue_token", username],
        cwd=REPO_ROOT,
        env={**base_env(), **settings.process_env()},
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stdout.split()
    if result.returncode != 0 or not lines:
        # stderr only: stdout may hold a token and is never echoed.
        detail = result.stderr.strip()[-2000:]
        raise ManageError(f"`django issue_token {username}` failed: {detail}")
    return lines[-1]


def rotate_key(settings: Settings) -> str:
    """Make a new active signing key; the old public keys stay so live tokens keep working.

    The write API reads the active kid on every signature and both APIs read the verifying
    folder again when a token names a kid they do not know, so no process is restarted.
    """
    signing, verifying = settings.auth_key_dirs()
    return auth.generate_key(signing, verifying)
