"""The stack under test: an isolated one started through the launcher, or the one `make up` runs."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from contracts.environment import STATE_DIR_DEFAULT, setting


@dataclass(frozen=True)
class Stack:
    """Where each service of a running stack answers, read from the stack's environment."""

    env: Mapping[str, str] = field(repr=False)
    kafka: str
    connect_url: str
    pg: dict[str, Any]
    mongo_url: str
    mongo_db: str
    write_url: str
    read_url: str
    state_dir: Path
    partitions: int

    @property
    def ports(self) -> dict[str, int]:
        """Each service's listening port, used to find its processes for RSS and CPU."""
        kafka_port = int(self.kafka.split(",")[0].rsplit(":", 1)[1])
        return {
            "postgres": int(self.pg["port"]),
            "kafka": kafka_port,
            "connect": urlparse(self.connect_url).port or 8083,
            "ferretdb": urlparse(self.mongo_url).port or 27017,
            "cud_api": urlparse(self.write_url).port or 8000,
            "streams": urlparse(self.read_url).port or 8080,
        }


def stack_from_env(env: Mapping[str, str]) -> Stack:
    """Read the shared variables, with the contracts' defaults."""

    def get(name: str) -> str:
        return setting(name, env)

    return Stack(
        env=dict(env),
        kafka=get("KAFKA_BROKER_URL"),
        connect_url=get("KAFKA_CONNECT_URL").rstrip("/"),
        pg={
            "host": get("POSTGRES_HOST"),
            "port": int(get("POSTGRES_PORT")),
            "db": get("POSTGRES_DB"),
            "user": get("POSTGRES_USER"),
            "password": get("POSTGRES_PASSWORD"),
        },
        mongo_url=get("MONGO_URL"),
        mongo_db=get("MONGO_DB"),
        write_url=f"http://127.0.0.1:{get('CUD_API_PORT')}",
        read_url=f"http://127.0.0.1:{get('READ_API_PORT')}",
        state_dir=Path(env.get("TODO_EDA_STATE_DIR") or STATE_DIR_DEFAULT),
        partitions=int(get("TOPIC_PARTITIONS")),
    )


def stack_from_handle(handle: Any) -> Stack:
    """Turn whatever the launcher's test helper yields into a `Stack`: a mapping of the stack's
    variables, or an object exposing one as `env`, `values` or `settings.values`."""
    env: Any = handle
    for attr in ("env", "values", "settings"):
        if isinstance(env, Mapping):
            break
        candidate = getattr(handle, attr, None)
        if attr == "settings" and candidate is not None:
            candidate = getattr(candidate, "values", None)
        env = candidate() if callable(candidate) else candidate
    if not isinstance(env, Mapping):
        raise TypeError(f"the launcher's stack handle {type(handle).__name__} has no env mapping")
    return stack_from_env({**os.environ, **env})


@contextmanager
def _launcher_stack() -> Iterator[Stack]:
    """An isolated stack from the launcher's test helper: temp state folder, free ports."""
    from compose.testing import TestStack

    test_stack = TestStack()
    try:
        test_stack.up()
        yield stack_from_handle(test_stack)
    finally:
        test_stack.close()


@contextmanager
def open_stack(mode: str) -> Iterator[Stack]:
    """`running`: the stack `make up` runs (from the environment); `isolated`: a fresh one."""
    if mode == "running":
        yield stack_from_env(os.environ)
        return
    if mode != "isolated":
        raise ValueError(f"BENCH_STACK must be 'isolated' or 'running', not {mode!r}")
    with _launcher_stack() as stack:
        yield stack
