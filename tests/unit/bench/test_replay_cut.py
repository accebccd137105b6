"""The replay's cut: the first N events of the CDC topic, from offset 0 of every partition."""

from __future__ import annotations

from bench.replay import first_events_cut


def test_the_cut_takes_each_partition_in_proportion_and_exactly_n_events() -> None:
    starts = {0: 0, 1: 0, 2: 0}
    ends = {0: 100, 1: 100, 2: 100}
    cut = first_events_cut(starts, ends, 100)
    assert sum(cut.values()) == 100
    assert all(33 <= cut[p] <= 34 for p in ends)


def test_the_cut_starts_at_each_partition_start_offset() -> None:
    cut = first_events_cut({0: 10, 1: 50}, {0: 110, 1: 150}, 100)
    assert cut == {0: 60, 1: 100}


def test_a_cut_never_passes_a_partition_end() -> None:
    cut = first_events_cut({0: 0, 1: 0}, {0: 1, 1: 1000}, 500)
    assert sum(cut.values()) == 500
    assert cut[0] <= 1 and cut[1] <= 1000


def test_asking_for_more_events_than_held_takes_them_all() -> None:
    assert first_events_cut({0: 0, 1: 3}, {0: 5, 1: 7}, 1_000) == {0: 5, 1: 7}


def test_uneven_partitions_settle_the_rounding_to_n() -> None:
    for n in (1, 7, 99, 250, 333):
        cut = first_events_cut({0: 0, 1: 0, 2: 0}, {0: 7, 1: 130, 2: 200}, n)
        assert sum(cut.values()) == n, n
