"""The environment variables every process of the stack shares, with their local defaults.

Each process reads them through `setting`, so a name or a default is written only here.
The passwords are local-development defaults for a stack bound to 127.0.0.1; export the
variable to use another.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# "0" turns the Prometheus metrics of both APIs off: no instruments on the request and event
# paths, and `/metrics` answers 404 (the benchmark's on/off comparison).
METRICS_VARIABLE = "TODO_EDA_METRICS"

DEFAULTS: Mapping[str, str] = {
    "KAFKA_BROKER_URL": "localhost:9092",
    "KAFKA_CONTROLLER_PORT": "9093",
    "KAFKA_CONNECT_URL": "http://localhost:8083",
    "POSTGRES_HOST": "localhost",
    "POSTGRES_PORT": "5432",
    "POSTGRES_DB": "todos",
    "POSTGRES_USER": "todo",
    "POSTGRES_PASSWORD": "todo-local-password",
    "DEBEZIUM_PG_USER": "debezium",
    "DEBEZIUM_PG_PASSWORD": "debezium-local-password",
    "MONGO_URL": "mongodb://localhost:27017",
    "MONGO_DB": "todos",
    "CUD_API_PORT": "8000",
    "READ_API_PORT": "8080",
    "TOPIC_PARTITIONS": "4",
    "DJANGO_DEBUG": "0",
    "FERRETDB_BACKEND": "postgresql",
    # "1" serves the benchmark's constant probe on the read API; off in production.
    "READ_API_BENCH_PROBE": "0",
    METRICS_VARIABLE: "1",
}

STATE_DIR_DEFAULT = "./.state"


def setting(name: str, env: Mapping[str, str] | None = None) -> str:
    """Return variable `name` from `env` (default os.environ), or its default if unset or empty."""
    env = os.environ if env is None else env
    return env.get(name) or DEFAULTS[name]


def flag(name: str, env: Mapping[str, str] | None = None) -> bool:
    """Return a boolean variable: "1", "true", "yes" or "on" mean true."""
    return setting(name, env).strip().lower() in {"1", "true", "yes", "on"}


def metrics_on(env: Mapping[str, str] | None = None) -> bool:
    """Return whether the processes record and serve Prometheus metrics (TODO_EDA_METRICS)."""
    return flag(METRICS_VARIABLE, env)
