"""The worker: `faust -A streams.worker worker --web-port $READ_API_PORT`.

Builds nothing itself: it takes the app, attaches the agents `STREAMS_AGENTS` selects and
the read API, in that order, so every piece can also be imported and tested alone.
"""

from __future__ import annotations

import faust

import web_read
from streams.agents import changes, commands, monitor, users  # users: the deny list's reader
from streams.app import app, settings
from streams.settings import Settings

AGENTS: tuple[faust.types.AgentT, ...] = (commands.apply_commands, changes.project_changes)


def keep_selected_agents(app: faust.App, settings: Settings) -> None:
    """Drop the agents STREAMS_AGENTS leaves out; an unknown name is a startup error."""
    if settings.agents is None:
        return
    unknown = settings.agents - set(app.agents)
    if unknown:
        raise RuntimeError(
            f"STREAMS_AGENTS names unknown agents {sorted(unknown)}; known: {sorted(app.agents)}"
        )
    for name in list(app.agents):
        if not settings.runs_agent(name):
            del app.agents[name]


keep_selected_agents(app, settings)
web_read.register(app, bench_probe=settings.bench_probe)

__all__ = ["AGENTS", "app", "monitor", "users"]
