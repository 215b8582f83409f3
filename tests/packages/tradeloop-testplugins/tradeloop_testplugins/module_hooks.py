"""A plugin that is a module with hook functions at module level, as pytest plugins are."""

from framework import hookimpl

TICKS: list[object] = []


@hookimpl
def on_tick(tick):
    TICKS.append(tick)


@hookimpl
def summarize_run():
    return {"module_hooks": {"ticks": len(TICKS)}}
