"""The worker's clients of PostgreSQL and MongoDB, opened once on worker start."""

from __future__ import annotations

import asyncio

from mode import Service

from streams.postgres import CommandStore
from streams.read_model import ReadModel
from streams.settings import Settings


class Connections:
    """Holds the PostgreSQL pool and the MongoDB client; nothing connects at import."""

    def __init__(self, settings: Settings) -> None:
        self.command_store = CommandStore(settings.postgres_conninfo)
        self.read_model = ReadModel(
            settings.mongo_url,
            settings.mongo_db,
            page_cache_bytes=settings.page_cache_mb * 1024 * 1024,
        )
        self._opened = False
        self._lock: asyncio.Lock | None = None

    async def open(self) -> None:
        """Open both clients once; agents and views call this before first use."""
        if self._opened:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._opened:
                await self.command_store.open()
                await self.read_model.open()
                self._opened = True

    async def close(self) -> None:
        """Close both clients."""
        if self._opened:
            self._opened = False
            await self.read_model.close()
            await self.command_store.close()


class ConnectionsService(Service):
    """Opens the connections with the worker and closes them when it stops."""

    connections: Connections

    async def on_start(self) -> None:
        """Open the clients."""
        await self.connections.open()

    async def on_stop(self) -> None:
        """Close the clients."""
        await self.connections.close()
