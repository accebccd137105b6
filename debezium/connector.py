"""The connector's definition file: its name and config, read with the standard library only."""

from __future__ import annotations

import json
from pathlib import Path

CONNECTOR_FILE = Path(__file__).resolve().parent / "connector.json"


def load(path: Path = CONNECTOR_FILE) -> tuple[str, dict[str, str]]:
    """Return the connector's name and config from a `{"name": ..., "config": {...}}` file."""
    doc = json.loads(path.read_text())
    return doc["name"], dict(doc["config"])


def connector_name(path: Path = CONNECTOR_FILE) -> str:
    """Return the name the pipeline's connector is registered under."""
    return load(path)[0]
