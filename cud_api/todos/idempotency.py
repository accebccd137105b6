"""Idempotency-Key support: replay the first response to a POST for 24 hours.

The response a key promises (for a create: the todo id and command id) is stored before the
command is emitted, and marked answered once Kafka acknowledged it. A retry after any failure
in between finds the promise unanswered and emits the same command again, which the command
agent applies once (it is keyed by command id): a key never makes a second todo. Concurrent
requests with one key are serialized by a PostgreSQL session advisory lock held until the
first is answered: one arriving meanwhile is refused at once with 409 and `Retry-After: 1` (as
the IETF Idempotency-Key draft asks) instead of holding a server thread; once the first is answered,
a retry replays its response. A first request makes three round trips: lock and read, store the
promise, then mark it answered and unlock. Only the promise waits for its commit to be flushed:
a mark lost in a crash leaves the promise unanswered, and its retry emits the same command again.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import threading
from collections.abc import Callable
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

    `promise` decides the response without any effect (it is stored first); `fulfil` makes
    the effect that response promises and must be safe to repeat for the same response.
    """
    if connection.in_atomic_block:
        # The answer's own COMMIT (in _answer_and_unlock) would end the caller's transaction.
        raise RuntimeError("idempotent_call needs autocommit, not an atomic block")
    response = _key_claim(key, fingerprint=fingerprint)
    try:
        if response is None:
            response = promise()
            _promise_store(key=key, fingerprint=fingerprint, response=response)
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


def _key_claim(key: str, *, fingerprint: str) -> StoredResponse | None:
    """Take the key's session advisory lock and read its stored response, in one round trip.

    409 at once when another request holds the lock: it is still being answered. None for a key
    unused within the TTL (an older row is replaced by the promise stored next); 422 for a key
    stored with another request's fingerprint. An answered response comes back as a replay.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%(key)s, 0)),"
            " k.fingerprint, k.status_code, k.response_body::text, k.response_headers::text"
            " FROM (VALUES (1)) AS one LEFT JOIN idempotency_keys AS k ON k.key = %(key)s"
            " AND k.created_at >= now() - make_interval(secs => %(ttl)s)",
            {"key": key, "ttl": settings.IDEMPOTENCY_KEY_TTL_SECONDS},
        )
        locked, stored_fingerprint, status_code, body, headers = cursor.fetchone()
    if not locked:
        raise ConflictError("A request with this Idempotency-Key is still being processed.")
    if stored_fingerprint is None:
        return None
    if stored_fingerprint != fingerprint:
        _key_unlock(key)
        raise UnprocessableError(
            "This Idempotency-Key was already used for a different request.",
            {"Idempotency-Key": ["Already used with a different request body."]},
        )
    return StoredResponse(
        # An unanswered promise is a 202 whose command may not have reached Kafka.
        status_code=status_code or 202,
        body=_envelope_ordered(orjson.loads(body) if body else {}),
        headers=orjson.loads(headers) if headers else {},
        replayed=status_code is not None,
    )


def _promise_store(*, key: str, fingerprint: str, response: StoredResponse) -> None:
    """Store the response a key promises, unanswered; it replaces a row past the TTL."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO idempotency_keys"
            " (key, fingerprint, status_code, response_body, response_headers, created_at)"
            " VALUES (%s, %s, NULL, %s::jsonb, %s::jsonb, now())"
            " ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
            " status_code = NULL, response_body = EXCLUDED.response_body,"
            " response_headers = EXCLUDED.response_headers, created_at = EXCLUDED.created_at",
            [key, fingerprint, orjson.dumps(response.body).decode(),
             orjson.dumps(response.headers).decode()],
        )  # fmt: skip


def _answer_and_unlock(key: str, *, status_code: int) -> None:
    """Mark the key's promise answered, commit, then release its lock: one round trip.

    The COMMIT comes before the unlock in the same query string, so a request that takes the
    lock next reads the promise answered. The commit does not wait for its WAL flush
    (`synchronous_commit` off for this transaction only). On an error the connection is
    dropped, which rolls back and releases the lock.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "BEGIN; SET LOCAL synchronous_commit = off;"
                " UPDATE idempotency_keys SET status_code = %s WHERE key = %s;"
                " COMMIT; SELECT pg_advisory_unlock(hashtextextended(%s, 0))",
                [status_code, key, key],
            )
    except DatabaseError:
        logger.warning("Could not mark an Idempotency-Key answered; closing the connection")
        connection.close()
        raise


def _key_unlock(key: str) -> None:
    """Release the key's lock; if that fails, drop the session, which releases it too."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
    except DatabaseError:
        # A persistent connection must not keep the lock: the key would answer 409 meanwhile.
        logger.warning("Could not release an Idempotency-Key lock; closing the connection")
        connection.close()


def _maybe_purge() -> None:
    """Every _PURGE_EVERY answered keys, delete the expired ones."""
    with _counter_lock:
        purge = next(_counter) % _PURGE_EVERY == 0
    if purge:
        ttl = timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
        IdempotencyKey.objects.filter(created_at__lt=timezone.now() - ttl).delete()
