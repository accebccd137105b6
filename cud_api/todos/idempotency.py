"""Idempotency-Key support: replay the first response to a POST for 24 hours.

Concurrent requests with the same key are serialized by a PostgreSQL advisory lock held in
the transaction that runs the first request, so exactly one of them emits a command and the
others replay its stored response. A failed attempt stores nothing, so it can be retried.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from cud_api.core.exceptions import ApplicationError, ConflictError, UnprocessableError
from cud_api.todos.models import IdempotencyKey

MAX_KEY_LENGTH = 255
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
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise ApplicationError(
            "Invalid Idempotency-Key header.",
            {"Idempotency-Key": [f"Must be 1-{MAX_KEY_LENGTH} visible ASCII characters."]},
        )
    return key


def request_fingerprint(*, operation: str, payload: Any) -> str:
    """Hash what identifies a request (operation and canonical JSON body)."""
    canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(operation.encode() + b"\n" + canonical).hexdigest()


def idempotent_call(
    *, key: str, fingerprint: str, call: Callable[[], StoredResponse]
) -> StoredResponse:
    """Run `call` once per key within the TTL; later requests get the stored response."""
    ttl = timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    # Long enough for the first request's Kafka delivery to finish, short enough to bound
    # how long a duplicate waits.
    lock_wait_ms = settings.KAFKA_DELIVERY_TIMEOUT_MS + 5000
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(lock_wait_ms)}")
            try:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
            except OperationalError as exc:
                if "lock timeout" not in str(exc):
                    raise
                raise ConflictError(
                    "A request with this Idempotency-Key is still being processed."
                ) from exc
        stored = IdempotencyKey.objects.filter(key=key).first()
        if stored is not None and stored.created_at < timezone.now() - ttl:
            stored.delete()
            stored = None
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise UnprocessableError(
                    "This Idempotency-Key was already used for a different request.",
                    {"Idempotency-Key": ["Already used with a different request body."]},
                )
            return StoredResponse(
                status_code=stored.status_code or 200,
                body=_envelope_ordered(stored.response_body or {}),
                headers=dict(stored.response_headers or {}),
                replayed=True,
            )
        # Raises on failure: the transaction rolls back and nothing is stored.
        response = call()
        IdempotencyKey.objects.create(
            key=key,
            fingerprint=fingerprint,
            status_code=response.status_code,
            response_body=response.body,
            response_headers=response.headers,
        )
        with _counter_lock:
            purge = next(_counter) % _PURGE_EVERY == 0
        if purge:
            IdempotencyKey.objects.filter(created_at__lt=timezone.now() - ttl).delete()
        return response
