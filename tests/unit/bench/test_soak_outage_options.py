"""The soak and outages paths' flags: opt-in paths, lengths, faults and the load mix."""

from __future__ import annotations

import pytest

from bench.config import OUTAGE_FAULTS, PATHS, parse
from bench.outages import FAULTS


def test_soak_and_outages_run_only_when_named() -> None:
    assert "soak" not in PATHS and "outages" not in PATHS
    assert parse([], env={}).sizes.paths == PATHS
    assert parse(["--paths", "soak,outages"], env={}).sizes.paths == ("soak", "outages")


def test_the_soak_is_an_hour_by_default_and_shorter_by_a_flag() -> None:
    assert parse([], env={}).sizes.soak_minutes == 60.0
    sizes = parse(["--paths", "soak", "--soak-minutes", "20"], env={}).sizes
    assert sizes.soak_minutes == 20.0
    assert sizes.soak_rate == 100.0 and sizes.soak_mix == (40, 20, 40)
    assert sizes.soak_seed_todos == 50_000


def test_outage_lengths_and_faults_come_from_flags() -> None:
    sizes = parse(
        ["--paths", "outages", "--outage-seconds", "10,300", "--outage-faults", "kafka+postgres"],
        env={},
    ).sizes
    assert sizes.outage_seconds == (10, 300)
    assert sizes.outage_faults == ("kafka+postgres",)
    assert FAULTS["kafka+postgres"] == ("kafka", "postgres")


def test_every_fault_the_flags_accept_names_the_services_it_stops() -> None:
    assert set(FAULTS) == set(OUTAGE_FAULTS)


@pytest.mark.parametrize(
    "argv", [["--outage-faults", "zookeeper"], ["--soak-mix", "50,50"]], ids=["fault", "mix"]
)
def test_bad_soak_or_outage_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse(argv, env={})
