"""Cancelling a task without swallowing a cancellation aimed at the caller."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has finished.

    The task's own ``CancelledError`` is absorbed; if the *caller* is cancelled while it
    waits (a shutdown deadline, ``asyncio.timeout``, its own caller giving up), that
    cancellation is re-raised, never swallowed. An exception the task ends with is raised.
    """
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
