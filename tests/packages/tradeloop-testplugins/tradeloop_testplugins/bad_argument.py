"""Asks for an argument the hookspec does not have."""

from framework import hookimpl


class Plugin:
    @hookimpl
    def on_tick(self, tick, venue):
        pass
