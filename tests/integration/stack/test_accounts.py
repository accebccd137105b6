"""The launcher's users and keys on the isolated stack: the demo user, `token`, `rotate-key`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import jwt
import psycopg
import requests

from compose import accounts
from compose.launcher import IsolatedStack
from compose.settings import REPO_ROOT
from contracts import auth
from tests.integration.conftest import needs
from tests.support.polling import wait_for
from tests.support.users import obtain_tokens


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m compose <args>` against the session's stack (its variables are exported)."""
    return subprocess.run(
        [sys.executable, "-m", "compose", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _verify(stack: IsolatedStack, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a token with the stack's public keys as the read side would; return header, claims."""
    header = jwt.get_unverified_header(token)
    keys = auth.load_verifying_keys(stack.settings.auth_key_dirs()[1])
    claims = jwt.decode(token, keys[header["kid"]], algorithms=[auth.ALGORITHM], issuer=auth.ISSUER)
    return header, claims


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _accepts(url: str, token: str) -> Callable[[], bool]:
    def probe() -> bool:
        return requests.get(url, headers=_bearer(token), timeout=10).status_code == 200

    return probe


def test_the_demo_user_gets_a_password_generated_once_into_the_state_folder(
    stack: IsolatedStack, app_db: psycopg.Connection[Any], demo_id: int
) -> None:
    needs(stack, "postgres")
    path = accounts.demo_password_file(stack.settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    password = path.read_text().strip()
    assert len(password) >= 20

    accounts.ensure_demo_user(stack.settings)  # what every `make up` runs again

    assert path.read_text().strip() == password
    row = app_db.execute(
        "SELECT id, is_active, password FROM auth_user WHERE username = 'demo'"
    ).fetchone()
    assert row is not None
    assert (row[0], row[1]) == (demo_id, True)
    assert not row[2].startswith("!"), "the demo user's password must be usable"
    log = stack.settings.log_file("migrate").read_text()
    assert password not in log
    if "cud_api" in stack.services:
        access, _ = obtain_tokens(stack.addresses.write_url, "demo", password)
        assert _verify(stack, access)[1][auth.USER_ID_CLAIM] == str(demo_id)


def test_the_token_command_prints_a_demo_access_token_and_nothing_else(
    stack: IsolatedStack, demo_id: int
) -> None:
    needs(stack, "postgres", "cud_api")
    done = _compose("token")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    token = lines[0]
    header, claims = _verify(stack, token)
    active = auth.load_signing_key(stack.settings.auth_key_dirs()[0]).kid
    assert (header["alg"], header["kid"]) == (auth.ALGORITHM, active)
    assert claims[auth.USER_ID_CLAIM] == str(demo_id)
    assert claims[auth.TOKEN_TYPE_CLAIM] == auth.ACCESS_TOKEN_TYPE
    assert token not in done.stderr
    response = requests.get(
        f"{stack.addresses.write_url}/api/todos/", headers=_bearer(token), timeout=10
    )
    assert response.status_code == 200, response.text


def test_a_rotated_key_signs_new_tokens_and_the_old_tokens_stay_valid_on_both_apis(
    stack: IsolatedStack,
) -> None:
    needs(stack, "postgres", "cud_api", "streams")
    signing, verifying = stack.settings.auth_key_dirs()
    old_kid = auth.load_signing_key(signing).kid
    old_token = accounts.issue_token(stack.settings)

    done = _compose("rotate-key")

    assert done.returncode == 0, done.stderr
    new_kid = auth.load_signing_key(signing).kid
    assert new_kid != old_kid and new_kid in done.stdout
    assert {old_kid, new_kid} <= set(auth.load_verifying_keys(verifying))
    assert stat.S_IMODE((signing / f"{new_kid}{auth.KEY_SUFFIX}").stat().st_mode) == 0o600
    new_token = accounts.issue_token(stack.settings)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    # The running write API signs with the new key too, without a restart.
    password = accounts.demo_password_file(stack.settings).read_text().strip()
    signed_in, _ = obtain_tokens(stack.addresses.write_url, "demo", password)
    assert jwt.get_unverified_header(signed_in)["kid"] == new_kid
    for base in (stack.addresses.write_url, stack.addresses.read_url):
        for token in (old_token, new_token):
            # Each API reads the verifying folder again when it meets the new kid.
            wait_for(
                _accepts(f"{base}/api/todos/", token),
                timeout=30,
                message=f"{base} accepting a token of {jwt.get_unverified_header(token)['kid']}",
            )
