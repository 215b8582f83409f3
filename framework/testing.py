"""pytest fixtures for tradeloop and for authors of third-party plugins (a ``pytest11`` plugin).

* ``manual_clock``: a ``ManualClock`` that only moves when the test calls ``advance``.
* ``bot_factory``: builds (and by default starts) a real ``Bot`` from settings overrides and
  the plugin objects you give it; every bot it made is stopped after the test. Unless the
  overrides set ``runtime.data_dir``, each bot keeps its files in a temporary folder of its
  own, never in the working directory's ``data/``.
* ``hook_recorder``: records every notification a bot emits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest

from framework.clock import Clock, ManualClock
from framework.loader import load_plugins
from framework.runtime import Bot
from framework.settings import deep_merge, load_settings


class BotFactory(Protocol):
    """Signature of the ``bot_factory`` fixture."""

    def __call__(
        self,
        overrides: Mapping[str, Any] | None = None,
        *,
        plugins: Mapping[str, object] | None = None,
        clock: Clock | None = None,
        entry_points: bool = False,
        start: bool = True,
    ) -> Awaitable[Bot]: ...


@dataclass
class HookRecorder:
    """Every notification emitted by the bots it is attached to, in order."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, hook: str, kwargs: Mapping[str, Any]) -> None:
        self.calls.append((hook, dict(kwargs)))

    def of(self, hook: str) -> list[dict[str, Any]]:
        """The keyword arguments of every call of ``hook``."""
        return [kwargs for name, kwargs in self.calls if name == hook]

    def attach(self, bot: Bot) -> HookRecorder:
        """Start recording ``bot``'s notifications."""
        bot.bus.add_observer(self)
        return self


@pytest.fixture
def manual_clock() -> ManualClock:
    """A clock that moves only when the test calls ``await manual_clock.advance(seconds)``."""
    return ManualClock()


@pytest.fixture
def hook_recorder() -> HookRecorder:
    """A recorder to ``attach`` to a bot."""
    return HookRecorder()


def _sets_data_dir(overrides: Mapping[str, Any] | None) -> bool:
    runtime = (overrides or {}).get("runtime")
    return isinstance(runtime, Mapping) and "data_dir" in runtime


@pytest.fixture
async def bot_factory(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BotFactory]:
    """Build real bots; installed entry-point plugins are loaded only with ``entry_points=True``.

    Each bot's ``runtime.data_dir`` is a fresh temporary folder unless ``overrides`` set it.
    """
    bots: list[Bot] = []

    async def make(
        overrides: Mapping[str, Any] | None = None,
        *,
        plugins: Mapping[str, object] | None = None,
        clock: Clock | None = None,
        entry_points: bool = False,
        start: bool = True,
    ) -> Bot:
        if not _sets_data_dir(overrides):
            data_dir = tmp_path_factory.mktemp("bot-data")
            overrides = deep_merge({"runtime": {"data_dir": str(data_dir)}}, overrides or {})
        settings = load_settings(use_files=False, overrides=overrides)
        loaded = load_plugins(
            settings,
            extra=list((plugins or {}).items()),
            plugin_table=None if entry_points else {},
        )
        bot = Bot(settings, loaded, clock=clock)
        bots.append(bot)
        if start:
            await bot.start()
        return bot

    yield make
    for bot in bots:
        if bot.running:
            await bot.stop()
