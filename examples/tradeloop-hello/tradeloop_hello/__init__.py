"""A small third-party tradeloop plugin: greets on a schedule and counts ticks and errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec
from loguru import logger

from framework import BotContext, IntervalJob, PluginError, Tick, hookimpl
from framework.setting_types import Seconds


class HelloSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The ``plugins.hello`` block (besides ``enabled`` and ``required``)."""

    greeting: str = "hello"
    every: Seconds = 60.0
    """Seconds between greetings (1 ms to a week)."""


class HelloPlugin:
    """Logs a greeting every ``every`` seconds; reports what it saw in the run summary."""

    def __init__(self, config: HelloSettings) -> None:
        self.config = config
        self.greetings = 0
        self.ticks = 0
        self.errors_seen = 0

    @staticmethod
    @hookimpl
    def declare_settings() -> type:
        return HelloSettings

    @hookimpl
    def lifespan(self, ctx: BotContext) -> contextlib.AbstractAsyncContextManager[None]:
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        logger.info("hello plugin starting on exchange {}", ctx.settings.exchange.name)
        yield
        logger.info("hello plugin stopping after {} greetings", self.greetings)

    @hookimpl
    def register_jobs(self) -> list[IntervalJob]:
        return [IntervalJob(name="greet", every=self.config.every, func=self.greet, at_start=True)]

    def greet(self) -> None:
        self.greetings += 1
        logger.info("{} #{}", self.config.greeting, self.greetings)

    @hookimpl
    def on_tick(self, tick: Tick) -> None:
        self.ticks += 1

    @hookimpl
    def on_plugin_error(self, error: PluginError) -> None:
        self.errors_seen += 1

    @hookimpl
    def summarize_run(self) -> Mapping[str, Any]:
        return {"hello": {"greetings": self.greetings, "ticks": self.ticks}}
