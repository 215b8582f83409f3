"""Hangs 60 s in its stop (a webhook waiting on a dead server)."""

import asyncio
import contextlib

from framework import hookimpl


class Plugin:
    @hookimpl
    def lifespan(self, ctx):
        return self._lifespan()

    @contextlib.asynccontextmanager
    async def _lifespan(self):
        yield
        await asyncio.sleep(60)
