"""Count the error lines each service has logged since a starting point, reading only new bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# Python's logging and log4j print the level as a word; PostgreSQL prints `ERROR:`/`FATAL:`.
ERROR_LINE = re.compile(rb"\b(ERROR|CRITICAL|FATAL)\b")


def error_lines(chunk: bytes) -> list[bytes]:
    """The lines of `chunk` that carry an error level."""
    return [line for line in chunk.splitlines() if ERROR_LINE.search(line)]


@dataclass
class LogFollower:
    """Follow one log file from its size at creation; count its error lines, keep a few."""

    path: Path
    keep: int = 5
    offset: int = field(init=False, default=0)
    count: int = field(init=False, default=0)
    examples: list[str] = field(init=False, default_factory=list)
    _partial: bytes = field(init=False, default=b"")

    def __post_init__(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def poll(self) -> int:
        """Read what was appended since the last poll; return the error lines counted so far."""
        if not self.path.exists():
            return self.count
        size = self.path.stat().st_size
        if size < self.offset:  # rotated or truncated: start again from its beginning
            self.offset, self._partial = 0, b""
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        self.offset += len(chunk)
        # A line still being written is kept until its newline arrives.
        data = self._partial + chunk
        complete, _, self._partial = data.rpartition(b"\n")
        found = error_lines(complete)
        self.count += len(found)
        for line in found[: max(0, self.keep - len(self.examples))]:
            self.examples.append(line.decode("utf-8", "replace")[:300])
        return self.count


def follow_logs(log_dir: Path) -> dict[str, LogFollower]:
    """A follower per `<service>.log` in `log_dir`, starting at each file's current end."""
    if not log_dir.is_dir():
        return {}
    return {p.stem: LogFollower(p) for p in sorted(log_dir.glob("*.log"))}
