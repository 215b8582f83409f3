"""Fixtures for the smart_logging tests: every test leaves loguru and stdlib logging as found."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from loguru import logger
from sl_helpers import BotRun, ManualTime, start_bot


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Restore loguru's handlers (its default stderr sink) and the stdlib root logger."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    logger.remove()
    logger.add(sys.stderr)
    root.handlers[:] = handlers
    root.setLevel(level)


class Console:
    """Everything written to ``sys.stderr`` during the test (the plugin's console sink)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self._seen = ""

    def getvalue(self) -> str:
        self._seen += self._capsys.readouterr().err
        return self._seen


@pytest.fixture
def console(capsys: pytest.CaptureFixture[str]) -> Console:
    """What the plugin writes to stderr (it resolves ``sys.stderr`` when it starts)."""
    return Console(capsys)


@pytest.fixture
def clock() -> ManualTime:
    """A time source that only moves when the test says so."""
    return ManualTime()


@pytest.fixture
async def bot_run(clock: ManualTime) -> AsyncIterator[Callable[..., Any]]:
    """Start a real Bot with smart_logging (and optional extra plugins); stopped at the end."""
    runs: list[BotRun] = []

    async def start(block: dict[str, Any] | None = None, **kwargs: Any) -> BotRun:
        run = await start_bot(block or {}, clock, **kwargs)
        runs.append(run)
        return run

    yield start
    for run in runs:
        await run.stop()
