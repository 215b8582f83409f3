"""Raises while starting."""

import contextlib

from framework import hookimpl


class Plugin:
    @hookimpl
    def lifespan(self, ctx):
        return self._lifespan()

    @contextlib.asynccontextmanager
    async def _lifespan(self):
        raise RuntimeError("cannot reach the database")
        yield
