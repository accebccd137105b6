"""The walk checker: every live todo exactly once, in order, nothing else."""

from __future__ import annotations

from bench.walk import check_walk


def test_a_walk_returning_every_id_once_in_order_passes_even_with_short_pages() -> None:
    check = check_walk([1, 2, 3, 5, 8], [[1, 2], [], [3], [5, 8]])
    assert check.ok
    assert (check.expected, check.returned, check.missing, check.duplicates) == (5, 5, 0, 0)


def test_a_missing_id_fails_the_walk() -> None:
    check = check_walk([1, 2, 3], [[1], [3]])
    assert not check.ok
    assert check.missing == 1
    assert check.first_problems == ["missing 2"]


def test_an_id_returned_twice_fails_the_walk() -> None:
    check = check_walk([1, 2, 3], [[1, 2], [2, 3]])
    assert not check.ok
    assert check.duplicates == 1
    assert check.out_of_order == 1  # 2 after 2 does not ascend


def test_ids_out_of_order_fail_the_walk() -> None:
    check = check_walk([1, 2, 3], [[2, 1, 3]])
    assert not check.ok
    assert (check.missing, check.duplicates, check.out_of_order) == (0, 0, 1)


def test_an_id_that_is_not_live_fails_the_walk() -> None:
    check = check_walk([1, 3], [[1, 2, 3]])
    assert not check.ok
    assert check.unexpected == 1
    assert check.first_problems == ["unexpected 2"]


def test_an_empty_list_walks_to_one_empty_page() -> None:
    assert check_walk([], [[]]).ok
