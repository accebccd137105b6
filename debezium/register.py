"""Register the connector with Kafka Connect idempotently and wait until it and its tasks run.

    python -m debezium.register [--file debezium/connector.json] [--timeout 120]

Uses KAFKA_CONNECT_URL (default http://localhost:8083).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from compose.polling import wait_until
from debezium.connector import CONNECTOR_FILE, load


class RegistrationError(Exception):
    """The connector could not be registered or did not reach RUNNING."""


def connect_url() -> str:
    return os.environ.get("KAFKA_CONNECT_URL", "http://localhost:8083").rstrip("/")


def put_config(url: str, name: str, config: Mapping[str, str], timeout: float = 30.0) -> bool:
    """PUT the config unless Connect already has exactly it; True when it was written."""
    current = requests.get(f"{url}/connectors/{name}/config", timeout=timeout)
    if current.status_code == 200:
        have = {k: v for k, v in current.json().items() if k != "name"}
        if have == dict(config):
            return False
    response = requests.put(f"{url}/connectors/{name}/config", json=dict(config), timeout=timeout)
    if response.status_code not in (200, 201):
        raise RegistrationError(f"PUT {name}: {response.status_code} {response.text}")
    return True


def status(url: str, name: str) -> dict[str, Any] | None:
    response = requests.get(f"{url}/connectors/{name}/status", timeout=10)
    return response.json() if response.status_code == 200 else None


def _failure(state: dict[str, Any]) -> str | None:
    parts = [state["connector"], *state.get("tasks", [])]
    for part in parts:
        if part.get("state") == "FAILED":
            return str(part.get("trace", "no trace")).splitlines()[0]
    return None


def _running(state: dict[str, Any]) -> bool:
    tasks = state.get("tasks", [])
    return (
        state["connector"]["state"] == "RUNNING"
        and bool(tasks)
        and all(task["state"] == "RUNNING" for task in tasks)
    )


def wait_running(url: str, name: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll the status until the connector and every task are RUNNING.

    A FAILED task is restarted once (Connect does not retry on its own); a second failure
    raises with Connect's trace.
    """
    restarted = False
    last: dict[str, Any] | None = None

    def running() -> dict[str, Any] | None:
        nonlocal restarted, last
        last = status(url, name)
        if last is None:
            return None
        if _running(last):
            return last
        failure = _failure(last)
        if failure and restarted:
            raise RegistrationError(f"connector {name} FAILED: {failure}")
        if failure:
            requests.post(
                f"{url}/connectors/{name}/restart",
                params={"includeTasks": "true", "onlyFailed": "true"},
                timeout=10,
            )
            restarted = True
        return None

    try:
        return wait_until(
            running,
            timeout=timeout,
            interval=0.5,
            what=f"connector {name} RUNNING",
            ignore=(requests.RequestException,),
        )
    except TimeoutError as exc:
        raise RegistrationError(f"{exc}; last status: {last}") from None


def register(
    url: str | None = None,
    *,
    path: Path = CONNECTOR_FILE,
    name: str | None = None,
    overrides: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Register (or update) the connector and return its RUNNING status."""
    url = (url or connect_url()).rstrip("/")
    default_name, config = load(path)
    config.update(overrides or {})
    name = name or default_name
    put_config(url, name, config)
    return wait_running(url, name, timeout)


def delete(url: str, name: str) -> None:
    """Delete a connector (its replication slot stays: drop it in PostgreSQL if need be)."""
    response = requests.delete(f"{url.rstrip('/')}/connectors/{name}", timeout=30)
    if response.status_code not in (204, 404):
        raise RegistrationError(f"DELETE {name}: {response.status_code} {response.text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--file", type=Path, default=CONNECTOR_FILE)
    parser.add_argument("--url", default=connect_url())
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    try:
        state = register(args.url, path=args.file, timeout=args.timeout)
    except (RegistrationError, requests.RequestException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
