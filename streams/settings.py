"""Configuration of the stream worker, read once from the environment.

Beyond the shared variables (`contracts.environment`), the worker reads:

- `STREAMS_APP_ID` (default `todo-eda-streams`): the Faust app id, hence the consumer group
  and the changelog topic's prefix. A new id starts a new group at offset 0, e.g. to rebuild
  the read model from `postgres.public.todos` into an empty table.
- `STREAMS_AGENTS` (default: all): comma list of the agents to run, by name:
  `apply_commands` (todos -> PostgreSQL) and `project_changes` (CDC -> table + MongoDB);
  `STREAMS_AGENTS=project_changes` runs only the projection, as a replay does.
- `STREAMS_TABLE_STORE` (default `rocksdb://`; unit tests use `memory://`).
- `STREAMS_COMMAND_BATCH_SIZE` / `STREAMS_COMMAND_BATCH_SECONDS` (500 / 0.1): the command
  agent's batch, at most that many events gathered for at most that long while they keep
  coming (`streams.agents.batches`); `STREAMS_CHANGE_BATCH_SIZE` /
  `STREAMS_CHANGE_BATCH_SECONDS` (500 / 0.1): the CDC agent's.
- `STREAMS_PAGE_CACHE_MB` (default 128; 0 turns it off): the bound of the list's cache of
  rendered bucket pages (`streams.read_model.page_cache`), used while this worker is the
  read model's only writer.
- `STREAMS_TABLE_MEMORY_MB` (default 16): RocksDB's memory for each partition of the `todos`
  table: two write buffers of a quarter each and a block cache of the other half (Faust's
  defaults allow 192 MB of write buffers and a 2 GB cache per partition, which a steady load
  fills for hours).
- `CUD_API_URL` (default `http://127.0.0.1:$CUD_API_PORT`): the write API, whose `/health/`
  the pipeline page's sampler asks.
- `READ_API_INTERNAL_LOOPBACK` (default 1): the internal pages (`/metrics`, `/pipeline`,
  `/topics`) answer loopback callers without a token; anyone else, or everyone when 0,
  needs a staff user's access token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import make_conninfo

from contracts.environment import STATE_DIR_DEFAULT, flag, setting

DEFAULT_APP_ID = "todo-eda-streams"


@dataclass(frozen=True)
class Settings:
    """Everything the worker needs to know about its surroundings."""

    kafka_broker_url: str
    postgres_host: str
    postgres_port: int
    postgres_db: str
    postgres_user: str
    postgres_password: str
    mongo_url: str
    mongo_db: str
    read_api_port: int
    topic_partitions: int
    faust_data_dir: Path
    table_store: str
    command_batch_size: int
    command_batch_seconds: float
    change_batch_size: int = 500
    change_batch_seconds: float = 0.1
    app_id: str = DEFAULT_APP_ID
    agents: frozenset[str] | None = None  # None: every agent
    bench_probe: bool = False  # serve the benchmark's constant view
    page_cache_mb: int = 128
    table_memory_mb: int = 16
    kafka_connect_url: str = "http://localhost:8083"
    internal_loopback: bool = True  # internal pages answer loopback callers without a token
    cud_api_url: str = "http://127.0.0.1:8000"

    @property
    def table_store_options(self) -> dict[str, int]:
        """Return the RocksDB options of each table partition, from `table_memory_mb`."""
        budget = self.table_memory_mb * 1024 * 1024
        return {
            "write_buffer_size": budget // 4,
            "max_write_buffer_number": 2,
            "block_cache_size": budget // 2,
        }

    @property
    def table_writes_buffered(self) -> int:
        """Return how many table writes may wait to be sent before faust holds new messages.

        Two CDC batches' worth: one batch writes up to `change_batch_size` todos at once.
        """
        return 2 * self.change_batch_size

    def runs_agent(self, name: str) -> bool:
        """Return whether the agent called `name` is to run in this worker."""
        return self.agents is None or name in self.agents

    @property
    def faust_brokers(self) -> list[str]:
        """Return the broker list in Faust's URL form."""
        hosts = [h.strip() for h in self.kafka_broker_url.split(",") if h.strip()]
        return [h if "://" in h else f"kafka://{h}" for h in hosts]

    @property
    def bootstrap_servers(self) -> str:
        """Return the broker list as aiokafka's host list (without Faust's `kafka://`)."""
        hosts = [h.strip() for h in self.kafka_broker_url.split(",") if h.strip()]
        return ",".join(h.removeprefix("kafka://") for h in hosts)

    @property
    def postgres_conninfo(self) -> str:
        """Return a libpq connection string."""
        return make_conninfo(
            host=self.postgres_host,
            port=self.postgres_port,
            dbname=self.postgres_db,
            user=self.postgres_user,
            password=self.postgres_password,
            application_name="todo-eda-streams",
        )


def load_settings(env: Mapping[str, str] = os.environ) -> Settings:
    """Build the settings from environment variables, with the shared defaults."""
    state_dir = Path(env.get("TODO_EDA_STATE_DIR") or STATE_DIR_DEFAULT)
    return Settings(
        kafka_broker_url=setting("KAFKA_BROKER_URL", env),
        postgres_host=setting("POSTGRES_HOST", env),
        postgres_port=int(setting("POSTGRES_PORT", env)),
        postgres_db=setting("POSTGRES_DB", env),
        postgres_user=setting("POSTGRES_USER", env),
        postgres_password=setting("POSTGRES_PASSWORD", env),
        mongo_url=setting("MONGO_URL", env),
        mongo_db=setting("MONGO_DB", env),
        read_api_port=int(setting("READ_API_PORT", env)),
        topic_partitions=int(setting("TOPIC_PARTITIONS", env)),
        faust_data_dir=Path(env.get("FAUST_DATA_DIR") or state_dir / "faust"),
        # memory:// lets unit tests run agents without RocksDB files
        table_store=env.get("STREAMS_TABLE_STORE", "rocksdb://"),
        command_batch_size=int(env.get("STREAMS_COMMAND_BATCH_SIZE", "500")),
        command_batch_seconds=float(env.get("STREAMS_COMMAND_BATCH_SECONDS", "0.1")),
        change_batch_size=int(env.get("STREAMS_CHANGE_BATCH_SIZE", "500")),
        change_batch_seconds=float(env.get("STREAMS_CHANGE_BATCH_SECONDS", "0.1")),
        app_id=env.get("STREAMS_APP_ID", "").strip() or DEFAULT_APP_ID,
        agents=_agent_names(env.get("STREAMS_AGENTS", "")),
        bench_probe=flag("READ_API_BENCH_PROBE", env),
        page_cache_mb=_non_negative(
            "STREAMS_PAGE_CACHE_MB", env.get("STREAMS_PAGE_CACHE_MB", "128")
        ),
        table_memory_mb=_positive(
            "STREAMS_TABLE_MEMORY_MB", env.get("STREAMS_TABLE_MEMORY_MB", "16")
        ),
        kafka_connect_url=setting("KAFKA_CONNECT_URL", env),
        internal_loopback=(env.get("READ_API_INTERNAL_LOOPBACK") or "1").strip().lower()
        in {"1", "true", "yes", "on"},
        cud_api_url=env.get("CUD_API_URL", "").strip()
        or f"http://127.0.0.1:{setting('CUD_API_PORT', env)}",
    )


def _non_negative(name: str, value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(f"{name} must be 0 or more, not {value}")
    return number


def _positive(name: str, value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"{name} must be 1 or more, not {value}")
    return number


def _agent_names(value: str) -> frozenset[str] | None:
    names = frozenset(n.strip() for n in value.split(",") if n.strip())
    return names or None
