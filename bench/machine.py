"""What the results were measured on: machine, versions, git commit."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from typing import Any

import psutil
import psycopg
import requests
from pymongo import MongoClient

from compose.launcher import StackAddresses

PACKAGES = (
    "django", "djangorestframework", "gunicorn", "faust-streaming", "aiokafka", "confluent-kafka",
    "psycopg", "pymongo", "orjson", "aiohttp", "rocksdict", "matplotlib",
)  # fmt: skip


def _cmd(argv: list[str]) -> str | None:
    try:
        return (
            subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip() or None
        )
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _service_versions(stack: StackAddresses) -> dict[str, Any]:
    versions: dict[str, Any] = {}
    try:
        with psycopg.connect(stack.postgres.conninfo, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            versions["postgresql"] = row[0] if row else None
    except psycopg.Error as exc:
        versions["postgresql"] = f"unknown ({exc.__class__.__name__})"
    try:
        info = requests.get(stack.connect_url + "/", timeout=5).json()
        versions["kafka_connect"] = info.get("version")
        plugins = requests.get(stack.connect_url + "/connector-plugins", timeout=5).json()
        versions["debezium"] = next(
            (p.get("version") for p in plugins if "postgres" in p.get("class", "").lower()), None
        )
    except (requests.RequestException, ValueError):
        versions["kafka_connect"] = "unknown"
    try:
        client: MongoClient[dict[str, Any]]
        with MongoClient(stack.mongo_url, serverSelectionTimeoutMS=5000) as client:
            build = client.admin.command("buildInfo")
            versions["mongodb_wire"] = build.get("version")
            ferret = build.get("ferretdb") or {}
            versions["ferretdb"] = ferret.get("version") if isinstance(ferret, dict) else None
    except Exception as exc:  # any driver error: the version is simply unknown
        versions["mongodb_wire"] = f"unknown ({exc.__class__.__name__})"
    return versions


def describe(stack: StackAddresses) -> dict[str, Any]:
    """Machine facts, package and service versions, and the git commit."""
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    dirty = _cmd(["git", "status", "--porcelain", "--untracked-files=no"])
    return {
        "machine": {
            "cores": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "git": {"commit": _cmd(["git", "rev-parse", "HEAD"]), "dirty": bool(dirty)},
        "packages": packages,
        "services": _service_versions(stack),
        "tools": {
            "wrk": (_cmd(["sh", "-c", "wrk --version 2>&1 | head -1"]) or "").split(" Copyright")[0]
        },
    }
