"""Implements a hook that does not exist (a typo of on_tick)."""

from framework import hookimpl


class Plugin:
    @hookimpl
    def on_tik(self, tick):
        pass
