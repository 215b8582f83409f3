"""Helpers for the smart_logging tests: a manual time source and a real Bot around the plugin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from framework import BotContext, hookimpl
from framework.loader import PLUGIN_GROUP, discover, load_plugins
from framework.runtime import Bot
from framework.settings import load_settings
from plugins.smart_logging import SmartLogging

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


class ManualTime:
    """A monotonic time source for the rate limiter, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Chatty:
    """A strategy that logs from its own module (attributed by module, not by a bound name)."""

    def __init__(self) -> None:
        self.strategy_id = ""

    @hookimpl
    def on_tick(self, ctx: BotContext) -> None:
        logger.warning("strategy saw a tick")


class StatsReader:
    """Another plugin reading the counters through the public lookup."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    @hookimpl
    def summarize_run(self, ctx: BotContext) -> dict[str, Any]:
        plugin = ctx.plugin("smart_logging")
        assert isinstance(plugin, SmartLogging)
        self.seen = plugin.stats()
        return {}


@dataclass
class BotRun:
    """A started bot and its smart_logging plugin."""

    bot: Bot
    plugin: SmartLogging | None
    summary: dict[str, Any] = field(default_factory=dict)
    stopped: bool = False

    async def stop(self) -> dict[str, Any]:
        if not self.stopped:
            self.stopped = True
            self.summary = await self.bot.stop()
        return self.summary


def settings_for(block: dict[str, Any], **overrides: Any) -> Any:
    data: dict[str, Any] = {
        "plugins": {"smart_logging": block},
        "exchange": {"api_key": API_KEY, "api_secret": API_SECRET},
        "runtime": {"use_uvloop": False},
    }
    data.update(overrides)
    return load_settings(use_files=False, overrides=data)


async def start_bot(
    block: dict[str, Any],
    clock: ManualTime,
    *,
    extra: Sequence[tuple[str, object]] = (),
    strategies: Sequence[dict[str, Any]] = (),
) -> BotRun:
    """A real Bot whose only table plugin is the installed smart_logging entry point."""
    settings = settings_for(block, strategies=list(strategies))
    table = {"smart_logging": discover(PLUGIN_GROUP)["smart_logging"]}
    loaded = load_plugins(settings, extra=extra, plugin_table=table)
    plugin = loaded.pm.get_plugin("smart_logging")
    if plugin is not None:
        plugin.limiter.time_source = clock
    bot = Bot(settings, loaded)
    await bot.start()
    return BotRun(bot, plugin)


def say(level: str, message: str) -> None:
    """Log from this module (so per-module levels for ``sl_helpers`` apply)."""
    logger.log(level, message)
