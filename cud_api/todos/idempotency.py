"""Idempotency-Key support: replay the first response to a POST for 24 hours.

The response a key promises (for a create: the todo id and command id) is stored before the
command is emitted, and marked answered once Kafka acknowledged it. A retry after any failure
in between finds the promise unanswered and emits the same command again, which the command
agent applies once (it is keyed by command id): a key never makes a second todo. Concurrent
requests with one key are serialized by a PostgreSQL session advisory lock held until the
first is answered: one arriving meanwhile is refused at once with 409 and `Retry-After: 1` (as
the IETF Idempotency-Key draft asks) instead of holding a server thread; once the first is answered,
a retry replays its response. A first request makes two round trips: take the lock and store the
promise in one statement, then mark it answered and unlock. Only the promise waits for its commit
to be flushed: a mark lost in a crash leaves the promise unanswered, and its retry emits the same
command again.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from cud_api.core.exceptions import ApplicationError, ConflictError, UnprocessableError
from cud_api.todos.models import IdempotencyKey

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
# The header's name in the WSGI environ (request.META).
IDEMPOTENCY_META_KEY = "HTTP_" + IDEMPOTENCY_HEADER.upper().replace("-", "_")
MAX_KEY_LENGTH = 255
# 1 to MAX_KEY_LENGTH visible ASCII characters (as published in the OpenAPI document).
KEY_PATTERN = "^[!-~]+$"
_KEY = re.compile(KEY_PATTERN)
# Every this many stored keys, a process deletes the expired ones.
_PURGE_EVERY = 1000
_counter = itertools.count(1)
_counter_lock = threading.Lock()


@dataclass(frozen=True)
class StoredResponse:
    """A response as the idempotency table keeps it."""

    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False


def _envelope_ordered(body: dict[str, Any]) -> dict[str, Any]:
    """Restore the envelope's key order (jsonb stores keys sorted by length)."""
    order = ("status", "status_code", "data", "errors", "message")
    return {
        **{k: body[k] for k in order if k in body},
        **{k: v for k, v in body.items() if k not in order},
    }


def idempotency_key_validate(key: str) -> str:
    """Check a client's Idempotency-Key: 1-255 visible ASCII characters."""
    if len(key) > MAX_KEY_LENGTH or _KEY.fullmatch(key) is None:
        raise ApplicationError(
            "Invalid Idempotency-Key header.",
            {"Idempotency-Key": [f"Must be 1-{MAX_KEY_LENGTH} visible ASCII characters."]},
        )
    return key


def idempotency_key_scope(*, owner_id: int, key: str) -> str:
    """The key as stored: per user, so one user's key never replays another's response."""
    return f"{owner_id}:{key}"


def request_fingerprint(*, operation: str, payload: Any) -> str:
    """Hash what identifies a request (operation and canonical JSON body)."""
    canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(operation.encode() + b"\n" + canonical).hexdigest()


def idempotent_call(
    *,
    key: str,
    fingerprint: str,
    promise: Callable[[], StoredResponse],
    fulfil: Callable[[StoredResponse], object],
) -> StoredResponse:
    """Answer a key's request once within the TTL; later requests get the stored response.

    `promise` decides the response without any effect (it is stored first, and dropped when the
    key already holds one); `fulfil` makes the effect that response promises and must be safe to
    repeat for the same response.
    """
    if connection.in_atomic_block:
        # The answer's own COMMIT (in _answer_and_unlock) would end the caller's transaction.
        raise RuntimeError("idempotent_call needs autocommit, not an atomic block")
    response = promise()
    stored = _key_claim(key, fingerprint=fingerprint, promised=response)
    try:
        if not stored:
            response = _stored_response(key, fingerprint=fingerprint)
        if not response.replayed:
            # Raises on failure: the promise stays unanswered and a retry fulfils it again.
            fulfil(response)
    except BaseException:
        _key_unlock(key)
        raise
    if response.replayed:
        _key_unlock(key)
    else:
        _answer_and_unlock(key, status_code=response.status_code)
    _maybe_purge()
    return response


def _key_claim(key: str, *, fingerprint: str, promised: StoredResponse) -> bool:
    """Take the key's session advisory lock and store `promised`, in one statement.

    409 at once when another request holds the lock: it is still being answered. True when the
    promise was stored (a new key, or one whose row is past the TTL); False when the key already
    holds a response within the TTL, which is left as it is. The insert's conflict check reads
    the row as last committed, after the lock was taken (not as of the statement's snapshot), so
    a response committed by the lock's previous holder is never overwritten.
    """
    # The lock may have been taken before the statement failed: the dropped session frees it.
    with _session_dropped_on_error("claim an Idempotency-Key"), connection.cursor() as cursor:
        cursor.execute(
            "WITH claim AS (SELECT pg_try_advisory_lock(hashtextextended(%(key)s, 0)) AS locked),"
            " promised AS (INSERT INTO idempotency_keys"
            " (key, fingerprint, status_code, response_body, response_headers, created_at)"
            " SELECT %(key)s, %(fingerprint)s, NULL, %(body)s::jsonb, %(headers)s::jsonb, now()"
            " FROM claim WHERE claim.locked"
            " ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
            " status_code = NULL, response_body = EXCLUDED.response_body,"
            " response_headers = EXCLUDED.response_headers, created_at = EXCLUDED.created_at"
            " WHERE idempotency_keys.created_at < now() - make_interval(secs => %(ttl)s)"
            " RETURNING 1)"
            " SELECT claim.locked, EXISTS (SELECT 1 FROM promised) FROM claim",
            {"key": key, "fingerprint": fingerprint,
             "body": orjson.dumps(promised.body).decode(),
             "headers": orjson.dumps(promised.headers).decode(),
             "ttl": settings.IDEMPOTENCY_KEY_TTL_SECONDS},
        )  # fmt: skip
        locked, stored = cursor.fetchone()
    if not locked:
        raise ConflictError("A request with this Idempotency-Key is still being processed.")
    return bool(stored)


def _stored_response(key: str, *, fingerprint: str) -> StoredResponse:
    """The response the key already holds (the lock is held): a replay once answered.

    422 for a key stored with another request's fingerprint.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT fingerprint, status_code, response_body::text, response_headers::text"
            " FROM idempotency_keys WHERE key = %s",
            [key],
        )
        row = cursor.fetchone()
    if row is None:
        # Purged as expired between the claim and this read: a retry stores a new promise.
        raise ConflictError("This Idempotency-Key expired while being processed.")
    stored_fingerprint, status_code, body, headers = row
    if stored_fingerprint != fingerprint:
        raise UnprocessableError(
            "This Idempotency-Key was already used for a different request.",
            {"Idempotency-Key": ["Already used with a different request body."]},
        )
    return StoredResponse(
        # An unanswered promise is a 202 whose command may not have reached Kafka.
        status_code=status_code or 202,
        body=_envelope_ordered(orjson.loads(body)),
        headers=orjson.loads(headers),
        replayed=status_code is not None,
    )


def _answer_and_unlock(key: str, *, status_code: int) -> None:
    """Mark the key's promise answered, commit, then release its lock: one round trip.

    The COMMIT comes before the unlock in the same query string, so a request that takes the
    lock next reads the promise answered. The commit does not wait for its WAL flush
    (`synchronous_commit` off for this transaction only).
    """
    with _session_dropped_on_error("mark an Idempotency-Key answered"), connection.cursor() as c:
        c.execute(
            "BEGIN; SET LOCAL synchronous_commit = off;"
            " UPDATE idempotency_keys SET status_code = %(status)s WHERE key = %(key)s;"
            " COMMIT; SELECT pg_advisory_unlock(hashtextextended(%(key)s, 0))",
            {"status": status_code, "key": key},
        )


def _key_unlock(key: str) -> None:
    """Release the key's lock; if that fails, the dropped session releases it too."""
    with (
        contextlib.suppress(DatabaseError),
        _session_dropped_on_error("release an Idempotency-Key lock"),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%(key)s, 0))", {"key": key})


@contextlib.contextmanager
def _session_dropped_on_error(action: str) -> Iterator[None]:
    """On a database error, close the connection (rolling back, releasing its locks); re-raise."""
    try:
        yield
    except DatabaseError:
        # A persistent connection must not keep a key's lock: the key would answer 409 meanwhile.
        logger.warning("Could not %s; closing the connection", action)
        connection.close()
        raise


def _maybe_purge() -> None:
    """Every _PURGE_EVERY answered keys, delete the expired ones."""
    with _counter_lock:
        purge = next(_counter) % _PURGE_EVERY == 0
    if purge:
        ttl = timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
        IdempotencyKey.objects.filter(created_at__lt=timezone.now() - ttl).delete()
