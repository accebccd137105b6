"""The rebuild worker for the replay path: the real `streams.app`, under a fresh app id, CDC only.

Stopgap until the worker reads an app id from its environment: the bench must rebuild into an
empty table and collection without joining the live worker's consumer group or re-running the
command agent on `todos`. So this wrapper (1) makes `faust.App` take its id from
BENCH_REPLAY_APP_ID (hence a new consumer group, starting at offset 0 by the app's own
`consumer_auto_offset_reset="earliest"`, and a new, empty changelog topic), and (2) drops every
agent that does not read `postgres.public.todos`. MONGO_DB, FAUST_DATA_DIR and READ_API_PORT
are the worker's own variables. Run as `python -m bench.gen.replay_worker worker --web-port N`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import faust

CDC_TOPIC = "postgres.public.todos"


def _patch_app_id(app_id: str) -> None:
    original = faust.App.__init__

    def init(self: faust.App, _id: str, *args: Any, **kwargs: Any) -> None:
        original(self, app_id, *args, **kwargs)

    faust.App.__init__ = init  # type: ignore[method-assign,assignment]


def main() -> None:
    """Import the app under the bench's id, keep the CDC agent only, run Faust's CLI."""
    _patch_app_id(os.environ["BENCH_REPLAY_APP_ID"])
    from streams.app import app

    for name, agent in list(app.agents.items()):
        topics = set(getattr(agent.channel, "topics", ()) or ())
        if CDC_TOPIC not in topics:
            del app.agents[name]
    sys.argv = ["faust", *sys.argv[1:]]
    app.main()


if __name__ == "__main__":
    main()
