"""Following a service's log: only lines appended since the start, error levels only."""

from __future__ import annotations

from pathlib import Path

from bench.logscan import LogFollower, error_lines, follow_logs


def test_error_lines_match_python_log4j_and_postgresql_levels_only() -> None:
    chunk = (
        b"[2026-12-01 12:00:00,000] ERROR Failed to connect\n"
        b"2026-12-01 12:00:01 UTC [42] FATAL:  the database system is shutting down\n"
        b"[2026-12-01 12:00:02,000] [7] [CRITICAL] worker crashed\n"
        b"[2026-12-01 12:00:03,000] INFO errorCode=0 no ERRORS here\n"
        b"[2026-12-01 12:00:04,000] WARNING retrying\n"
    )
    assert len(error_lines(chunk)) == 3


def test_a_follower_counts_only_what_was_appended_after_it_started(tmp_path: Path) -> None:
    path = tmp_path / "streams.log"
    path.write_bytes(b"old ERROR before the run\n")
    follower = LogFollower(path)
    with path.open("ab") as handle:
        handle.write(b"ERROR one\nINFO fine\nERROR tw")
    assert follower.poll() == 1
    with path.open("ab") as handle:
        handle.write(b"o\n")
    assert follower.poll() == 2
    assert follower.examples == ["ERROR one", "ERROR two"]


def test_a_truncated_log_is_read_again_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "kafka.log"
    path.write_bytes(b"INFO a long line before the run started\n")
    follower = LogFollower(path)
    path.write_bytes(b"ERROR x\n")
    assert follower.poll() == 1


def test_follow_logs_has_one_follower_per_service_log(tmp_path: Path) -> None:
    for name in ("kafka.log", "streams.log", "notes.txt"):
        (tmp_path / name).write_text("")
    assert sorted(follow_logs(tmp_path)) == ["kafka", "streams"]
    assert follow_logs(tmp_path / "missing") == {}
