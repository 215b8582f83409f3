"""Raises in its stop."""

import contextlib

from framework import hookimpl


class Plugin:
    @hookimpl
    def lifespan(self, ctx):
        return self._lifespan()

    @contextlib.asynccontextmanager
    async def _lifespan(self):
        yield
        raise RuntimeError("lost the connection while closing")
