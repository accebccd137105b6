"""The write API's own count of the writes it accepted, refused and failed, from its /metrics."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REQUESTS_SAMPLE = "cud_api_http_requests_total"


def write_counts(exposition: str) -> dict[str, int]:
    """Sum the todo routes' write requests by outcome: accepted (202), refused (503), failed.

    `failed` is every other 5xx; 4xx answers are the client's mistakes and not counted. The
    sign-up and sign-in routes are left out: they are not writes of todos.
    """
    counts = {"accepted": 0, "refused": 0, "failed": 0}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name != REQUESTS_SAMPLE:
                continue
            labels = sample.labels
            if labels.get("method") not in WRITE_METHODS or "auth" in labels.get("route", ""):
                continue
            status = labels.get("status", "")
            value = int(sample.value)
            if status == "202":
                counts["accepted"] += value
            elif status == "503":
                counts["refused"] += value
            elif status.startswith("5"):
                counts["failed"] += value
    return counts


def scrape_write_counts(write_url: str) -> dict[str, int] | None:
    """The write API's counts now; None when its /metrics is off or unreachable."""
    try:
        response = requests.get(f"{write_url.rstrip('/')}/metrics", timeout=5)
    except requests.RequestException:
        return None
    if response.status_code != 200:
        return None
    return write_counts(response.text)
