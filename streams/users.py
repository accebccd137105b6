"""The users deny list: users whose tokens are refused although their signature is good.

It is the state of Debezium's capture of `public.auth_user` (only `id` and `is_active`,
topic `contracts.topics.USER_CHANGES`, key the user id), replayed from the start of every
partition by each worker (`streams.agents.users`): a deactivated user is refused with
"user deactivated", a deleted one with "user deleted". Users it never heard of are trusted
on their signature, so a user who just signed up is not refused before CDC catches up.
Applying a change twice leaves the same state, so replays and redeliveries are harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson

from contracts.records import DecodeError, parse_owner_id

log = logging.getLogger(__name__)

DEACTIVATED = "user deactivated"
DELETED = "user deleted"
# Debezium's operations: read (snapshot), create, update, delete.
_UPSERT_OPS = frozenset({"r", "c", "u"})


@dataclass(frozen=True)
class UserChange:
    """A user's state after one change: None while active, else why their tokens are refused."""

    user_id: int
    refusal: str | None


def _json(raw: bytes, what: str) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"{what} is not JSON: {exc}") from exc


def decode_user_key(key: bytes | None) -> int:
    """Return the user id a record key names (b"42", or an object holding `id`)."""
    if key is None:
        raise DecodeError("user change has no key")
    body = _json(key, "key")
    if isinstance(body, dict) and "payload" in body:
        body = body["payload"]  # the JSON converter's schemas.enable=true wrapper
    if isinstance(body, dict):
        body = body.get("id")
    try:
        return parse_owner_id(body)
    except DecodeError as exc:
        raise DecodeError(f"bad user key: {exc}") from exc


def decode_user_change(key: bytes | None, value: bytes | None) -> UserChange:
    """Decode a record of USER_CHANGES, or raise DecodeError saying why not.

    A tombstone (no value) follows a delete, and after compaction may be all that is left
    of one: it means deleted too.
    """
    user_id = decode_user_key(key)
    if value is None or value == b"":
        return UserChange(user_id, DELETED)
    body = _json(value, "value")
    if isinstance(body, dict) and "payload" in body and "op" not in body:
        body = body["payload"]
    if not isinstance(body, dict):
        raise DecodeError("user change is not a JSON object")
    op = body.get("op")
    if op == "d":
        return UserChange(user_id, DELETED)
    if op not in _UPSERT_OPS:
        raise DecodeError(f"unknown change op {op!r}")
    after = body.get("after")
    if not isinstance(after, dict):
        raise DecodeError("user change lacks after")
    if after.get("id") != user_id:
        raise DecodeError(f"record key {user_id} does not match after.id {after.get('id')!r}")
    active = after.get("is_active")
    if not isinstance(active, bool):
        raise DecodeError(f"bad after.is_active {active!r}")
    return UserChange(user_id, None if active else DEACTIVATED)


class DenyList:
    """Refused users by id; active and unknown users are not kept (nothing to refuse)."""

    def __init__(self) -> None:
        self._refusals: dict[int, str] = {}
        self.skipped = 0
        self.caught_up = False

    def apply(self, change: UserChange) -> None:
        """Record a user's latest state."""
        if change.refusal is None:
            self._refusals.pop(change.user_id, None)
        else:
            self._refusals[change.user_id] = change.refusal

    def apply_record(self, key: bytes | None, value: bytes | None, where: str) -> None:
        """Decode and apply one record; a malformed one is skipped, counted and logged."""
        try:
            change = decode_user_change(key, value)
        except DecodeError as exc:
            self.skipped += 1
            log.warning("skipping user change %s (%d skipped so far): %s", where, self.skipped, exc)
            return
        self.apply(change)

    def refusal(self, user_id: int) -> str | None:
        """Return why the user's tokens are refused, or None."""
        return self._refusals.get(user_id)

    def status(self) -> dict[str, object]:
        """Return the list's state for the health report."""
        return {
            "state": "caught up" if self.caught_up else "catching up",
            "refused_users": len(self._refusals),
            "skipped_records": self.skipped,
        }


#: This worker's deny list, filled by `streams.agents.users`.
deny_list = DenyList()


def user_refusal(user_id: int) -> str | None:
    """Return "user deactivated" / "user deleted" when CDC of auth_user says so, else None."""
    return deny_list.refusal(user_id)
