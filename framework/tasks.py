"""Cancelling a task without swallowing a cancellation aimed at the caller."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has finished.

    The task's own ``CancelledError`` is absorbed. If the *caller* is cancelled while it
    waits (a shutdown deadline, ``asyncio.timeout``, its own caller giving up), that
    cancellation is re-raised, never swallowed. A cancellation the caller had already
    received before (cleanup in a ``finally`` after being cancelled) does not count: the
    cleanup still waits for the task. An exception the task ends with is raised.
    """
    current = asyncio.current_task()
    before = current.cancelling() if current is not None else 0
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        if current is not None and current.cancelling() > before:
            raise
