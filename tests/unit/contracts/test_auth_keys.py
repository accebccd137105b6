"""The key folders: generated once, private keys mode 600, kids that name their keys."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest

from contracts import auth


def test_generated_key_signs_what_its_public_key_verifies(tmp_path: Path) -> None:
    signing, verifying = tmp_path / "signing", tmp_path / "verifying"
    kid = auth.generate_key(signing, verifying)
    key = auth.load_signing_key(signing)
    token = jwt.encode(
        {"user_id": "7"}, key.private_pem, algorithm=auth.ALGORITHM, headers={"kid": key.kid}
    )
    public = auth.load_verifying_keys(verifying)
    assert key.kid == kid and set(public) == {kid}
    assert jwt.get_unverified_header(token)["kid"] == kid
    assert jwt.decode(token, public[kid], algorithms=[auth.ALGORITHM]) == {"user_id": "7"}


def test_private_key_and_its_folder_are_private(tmp_path: Path) -> None:
    signing = tmp_path / "signing"
    kid = auth.generate_key(signing, tmp_path / "verifying")
    assert stat.S_IMODE((signing / f"{kid}.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(signing.stat().st_mode) == 0o700


def test_ensure_key_keeps_the_active_key_and_rotation_keeps_old_public_keys(tmp_path: Path) -> None:
    signing, verifying = tmp_path / "signing", tmp_path / "verifying"
    first = auth.ensure_key(signing, verifying)
    assert auth.ensure_key(signing, verifying) == first
    second = auth.generate_key(signing, verifying)
    assert second != first
    assert auth.load_signing_key(signing).kid == second
    assert set(auth.load_verifying_keys(verifying)) == {first, second}


def test_a_public_key_under_another_kid_is_refused(tmp_path: Path) -> None:
    verifying = tmp_path / "verifying"
    kid = auth.generate_key(tmp_path / "signing", verifying)
    (verifying / f"{kid}.pem").rename(verifying / "someone-else.pem")
    with pytest.raises(auth.KeyFolderError, match="does not match"):
        auth.load_verifying_keys(verifying)


def test_no_active_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(auth.KeyFolderError, match="no active signing key"):
        auth.load_signing_key(tmp_path)
