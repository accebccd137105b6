"""The soak's summary: memory growth after warm-up, lag trend, error lines, verdicts, table."""

from __future__ import annotations

from typing import Any

from bench.gen.mixed import pick_operation, retry_after_s
from bench.soak import soak_table, summarize
from contracts import topics


def _samples(rss: Any, lag: Any, errors: int = 0, n: int = 61) -> list[dict[str, Any]]:
    commands, changes = topics.PIPELINE
    return [
        {
            "t": float(10 * i),
            "rss_mib": {"streams": rss(i), "kafka": 500.0},
            "pss_mib": {"streams": rss(i) / 2, "kafka": 250.0},
            "fds": {"streams": 100 + i, "kafka": 300},
            "lag": {commands: lag(i), changes: 0},
            "write_api": {"accepted": 100 * i, "refused": 0, "failed": 0},
            "error_lines": {"streams": errors if i == n - 1 else 0, "kafka": 0},
        }
        for i in range(n)
    ]


def test_flat_memory_flat_lag_and_quiet_logs_meet_every_target() -> None:
    result = summarize(_samples(lambda i: 200.0, lambda i: 50 + i % 3), warmup_s=60, rate=100)
    assert result["processes"]["streams"]["growth_pct"] == 0.0
    assert result["processes"]["streams"]["fds_start"] == 100
    assert result["processes"]["streams"]["fds_end"] == 160
    assert result["lag"]["max"] == 52 and not result["lag"]["growing"]
    assert result["targets"] == {
        "rss_growth_under_10pct": True,
        "pss_growth_under_10pct": True,
        "pss_outside_segments_under_10pct": True,
        "lag_not_growing": True,
        "no_error_lines": True,
    }


def test_memory_growth_is_measured_from_the_end_of_the_warm_up() -> None:
    # Fast growth during the warm-up (first 100 s) does not count; 200 -> 240 MiB after it does.
    def rss(i: int) -> float:
        return 100.0 + 10 * i if i <= 10 else 200.0 + 40.0 * (i - 10) / 50

    result = summarize(_samples(rss, lambda i: 0), warmup_s=100, rate=100)
    growth = result["processes"]["streams"]["growth_pct"]
    assert 15 < growth < 20  # medians of the first and last minute: ~203 and ~237 MiB
    assert result["targets"]["rss_growth_under_10pct"] is False
    assert 15 < result["processes"]["streams"]["pss_growth_pct"] < 20
    assert result["targets"]["pss_growth_under_10pct"] is False


def test_lag_rising_through_the_last_half_and_error_lines_fail_their_targets() -> None:
    result = summarize(_samples(lambda i: 200.0, lambda i: 400 * i, errors=3), warmup_s=60,
                       rate=100)  # fmt: skip
    assert result["lag"]["growing"] is True
    assert result["error_lines"] == {"streams": 3, "kafka": 0}
    assert result["targets"]["lag_not_growing"] is False
    assert result["targets"]["no_error_lines"] is False


def test_the_table_names_each_process_and_each_target() -> None:
    result = summarize(_samples(lambda i: 200.0, lambda i: 0), warmup_s=60, rate=100)
    result.update(duration_s=600, rate=100, mix=[50, 35, 15], read_rate=20, sample_s=10,
                  warmup_s=60, load={"accepted": 5, "achieved_rate": 99.9})  # fmt: skip
    text = soak_table(result)
    assert (
        "| streams | 200.0 | 200.0 | 200.0 | 0.0 | 100.0 | 100.0 | 0.0 | 0.0 | 100 | 160 | 160 |"
        in text
    )
    assert "| < 10 % | met |" in text
    assert "not growing | met" in text
    assert "| ERROR lines in the logs since the start | none | none | met |" in text


def test_a_shared_segment_filling_counts_apart_from_the_rest_of_the_pss() -> None:
    # PostgreSQL-like: the shared buffers' touched pages grow 20 -> 60 MiB of 150 after the
    # warm-up while the rest of its PSS stays at 100 MiB.
    samples = _samples(lambda i: 200.0, lambda i: 0)
    for i, sample in enumerate(samples):
        touched = 20.0 + 40.0 * max(0, i - 6) / 54
        sample["pss_mib"]["postgres"] = 100.0 + touched
        sample["rss_mib"]["postgres"] = 400.0
        sample["segment_mib"] = {"postgres": {"pss_mib": touched, "size_mib": 150.0}}
        sample["process_count"] = {"postgres": 20}
    # The last two minutes with five more backends open: 125 MiB outside the segment.
    for sample in samples[-12:]:
        sample["pss_mib"]["postgres"] += 25.0
        sample["process_count"]["postgres"] = 25
    result = summarize(samples, warmup_s=60, rate=100)
    postgres = result["processes"]["postgres"]
    assert postgres["pss_growth_pct"] > 10
    assert postgres["pss_outside_segment_growth_pct"] == 25.0
    assert postgres["outside_per_process_growth_pct"] == 0.0
    assert (postgres["processes_min"], postgres["processes_max"]) == (20, 25)
    assert postgres["segment_size_mib"] == 150.0
    assert 20 < postgres["segment_pss_after_warmup_mib"] < postgres["segment_pss_end_mib"] < 60
    assert result["processes"]["streams"]["pss_outside_segment_growth_pct"] == 0.0
    assert result["targets"]["pss_growth_under_10pct"] is False
    assert result["targets"]["pss_outside_segments_under_10pct"] is False
    result.update(duration_s=600, rate=100, mix=[50, 35, 15], read_rate=20, sample_s=10,
                  warmup_s=60, load={})  # fmt: skip
    assert "of 150.0 MiB" in soak_table(result)


def test_update_and_delete_are_drawn_only_once_a_todo_exists() -> None:
    import random

    rng = random.Random(1)
    assert {pick_operation(rng, (0, 1, 1), live=0) for _ in range(20)} == {"create"}
    drawn = [pick_operation(rng, (50, 35, 15), live=10) for _ in range(2000)]
    assert 0.45 < drawn.count("create") / 2000 < 0.55
    assert 0.10 < drawn.count("delete") / 2000 < 0.20


def test_retry_after_is_read_in_seconds_with_a_default() -> None:
    assert retry_after_s("3") == 3.0
    assert retry_after_s(None) == 1.0
    assert retry_after_s("Wed, 21 Oct 2026 07:28:00 GMT", default=2.0) == 2.0
