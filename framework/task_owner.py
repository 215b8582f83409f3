"""Which plugin a task works for.

The scheduler sets it for each job's task and ``BotContext.spawn`` for each task a plugin
spawns; asyncio copies a task's context into the tasks it creates (``asyncio.gather``,
``create_task``), so a request sent from any of them names the plugin. The flight recorder
keeps it with each request, so that a replay, which turns some plugins off (the journal), does
not wait for their requests. Empty: the bot's own start, stop and hook calls.
"""

from __future__ import annotations

import contextvars

_OWNER: contextvars.ContextVar[str] = contextvars.ContextVar("tradeloop_task_owner", default="")


def task_owner() -> str:
    """The plugin the running task works for ("" when none was set)."""
    return _OWNER.get()


def owned_context(owner: str) -> contextvars.Context:
    """A copy of the current context in which ``task_owner()`` is ``owner``: pass it as
    ``create_task(..., context=...)``."""
    context = contextvars.copy_context()
    context.run(_OWNER.set, owner)
    return context
