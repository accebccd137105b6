"""Replay ceiling: a Faust agent that does nothing but iterate (and ack) the same events.

faust-streaming's own path for each message (fetch thread, conductor, channel, stream, ack)
is paid by any agent, whatever it does; this agent pays only that, so the rebuild's rate
can be read against what the framework alone allows on this machine.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import faust

from bench.gen.common import emit, read_config


def build(cfg: dict[str, Any]) -> faust.App:
    """A Faust app of one counting agent on `topic`; it prints its result once at the cut."""
    ends = {int(p): int(o) for p, o in cfg["ends"].items()}
    remaining = {p for p, end in ends.items() if end > int(cfg["starts"].get(str(p), 0))}
    app = faust.App(
        cfg["app_id"],
        broker=f"kafka://{cfg['bootstrap']}",
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="bench-faust-agent-"),
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        topic_partitions=len(ends),
    )
    topic = app.topic(
        cfg["topic"], key_type=bytes, value_type=bytes, key_serializer="raw",
        value_serializer="raw", partitions=len(ends),
    )  # fmt: skip
    seen = {"events": 0, "t_first": 0.0}

    @app.agent(topic, name="count")
    async def count(stream: faust.StreamT[Any]) -> None:
        async for event in stream.events():
            message = event.message
            if not seen["t_first"]:
                seen["t_first"] = time.monotonic()
            if message.offset < ends[message.partition]:
                seen["events"] += 1
            if message.offset + 1 >= ends[message.partition]:
                remaining.discard(message.partition)
            if not remaining:
                streaming = time.monotonic() - seen["t_first"]
                events = int(seen["events"])
                emit({"events": events, "streaming_s": streaming,
                      "events_per_s": events / streaming if streaming > 0 else None})  # fmt: skip
                # The figure is out; the group is throwaway, so no orderly leave is needed.
                os._exit(0)

    return app


def main() -> None:
    """Run the app's worker until the agent has read up to the cut."""
    app = build(read_config())
    # Faust sends stdout to its log by default; the harness reads the result line from stdout.
    worker = faust.Worker(app, loglevel="WARN", quiet=True, redirect_stdouts=False)
    worker.spinner = None  # its terminal codes would start the result's line
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
