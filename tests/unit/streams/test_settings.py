"""The worker's settings from its environment."""

from __future__ import annotations

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
