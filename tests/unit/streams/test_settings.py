"""The worker's settings from its environment."""

from __future__ import annotations

import pytest

from streams.settings import load_settings


def test_the_app_id_and_agents_default_to_the_whole_worker():
    settings = load_settings({})
    assert settings.app_id == "todo-eda-streams"
    assert settings.agents is None
    assert settings.runs_agent("apply_commands") and settings.runs_agent("project_changes")


def test_a_replay_worker_takes_its_own_id_and_only_the_projection():
    settings = load_settings(
        {"STREAMS_APP_ID": "bench-replay-1", "STREAMS_AGENTS": " project_changes, "}
    )
    assert settings.app_id == "bench-replay-1"
    assert settings.agents == frozenset({"project_changes"})
    assert not settings.runs_agent("apply_commands")


def test_the_broker_list_loses_fausts_scheme_for_aiokafka():
    settings = load_settings({"KAFKA_BROKER_URL": "kafka://a:9092, b:9093"})
    assert settings.bootstrap_servers == "a:9092,b:9093"
    assert settings.faust_brokers == ["kafka://a:9092", "kafka://b:9093"]


def test_each_table_partition_gets_a_bounded_rocksdb_memory_budget():
    assert load_settings({}).table_store_options == {
        "write_buffer_size": 4 * 1024 * 1024,
        "max_write_buffer_number": 2,
        "block_cache_size": 8 * 1024 * 1024,
    }
    options = load_settings({"STREAMS_TABLE_MEMORY_MB": "64"}).table_store_options
    assert options["write_buffer_size"] * options["max_write_buffer_number"] == 32 * 1024 * 1024
    with pytest.raises(ValueError, match="STREAMS_TABLE_MEMORY_MB"):
        load_settings({"STREAMS_TABLE_MEMORY_MB": "0"})


def test_the_rocksdb_store_of_the_todos_table_opens_with_that_budget(tmp_path):
    from faust.stores.rocksdb import Store

    from streams.app import settings
    from streams.tables import todos_table

    store = Store(
        f"rocksdb://{tmp_path}", todos_table.app, todos_table, options=todos_table.options
    )
    budget = settings.table_store_options
    assert store.rocksdb_options.write_buffer_size == budget["write_buffer_size"]
    assert store.rocksdb_options.max_write_buffer_number == budget["max_write_buffer_number"]
    assert store.rocksdb_options.block_cache_size == budget["block_cache_size"]
