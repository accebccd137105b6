"""Logging filters of the write API."""

from __future__ import annotations

import logging


class SkipServiceUnavailable(logging.Filter):
    """Drop Django's per-request line for a 503: an outage is logged once, when it begins."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but a response logged with status 503."""
        return getattr(record, "status_code", None) != 503
