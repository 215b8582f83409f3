"""The ``status`` plugin: the bot's state at a glance, live on a terminal or as log lines."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, TextIO

from loguru import logger

from framework import (
    BotContext,
    IntervalJob,
    Job,
    PluginError,
    ReconcileResult,
    StreamStatus,
    hookimpl,
)

from .model import RateMeter, StatusModel, StatusSnapshot, event_counts
from .settings import StatusSettings

if TYPE_CHECKING:  # rich is imported when the plugin starts, not with the CLI
    from .display import LiveDisplay, Resolved

NAME = "status"
LIVE_RATE_WINDOW = 5.0
"""Seconds over which the live display averages events per second (at least 3 refreshes)."""


class StatusPlugin:
    """Positions, PnL, balances, the last reconcile, streams, event rates and plugin health.

    Built-in; ``plugins.status.enabled: false`` removes it, ``mode: off`` keeps the figures
    (``ctx.plugin("status").snapshot()``) without showing them. See ``docs/status.md``.
    """

    def __init__(
        self,
        config: StatusSettings | None = None,
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        width: int | None = None,
    ) -> None:
        self.config = config or StatusSettings()
        self.model = StatusModel(equity_asset=self.config.equity_asset)
        self.mode: Resolved = "off"
        """The mode in force, resolved when the plugin starts."""
        self.last_snapshot: StatusSnapshot | None = None
        """The snapshot shown last (live frame or log line)."""
        self.last_line = ""
        """The last status log line (mode ``log``)."""
        self._stdout = stdout
        self._stderr = stderr
        self._width = width
        self._ctx: BotContext | None = None
        self._meter: RateMeter | None = None
        self._display: LiveDisplay | None = None

    # ------------------------------------------------------------------------ hooks

    @staticmethod
    @hookimpl
    def declare_settings() -> type[StatusSettings]:
        """The ``plugins.status`` block."""
        return StatusSettings

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Resolve the mode; start the live display (if live); stop it, or log a last line."""
        return self._lifespan(ctx)

    @hookimpl
    def register_jobs(self) -> list[Job]:
        """``status.refresh`` (live) or ``status.log`` (log lines); nothing when off."""
        if self.mode == "live":
            return [
                IntervalJob(
                    name="refresh", every=self.config.interval, func=self.refresh, at_start=True
                )
            ]
        if self.mode == "log":
            return [IntervalJob(name="log", every=self.config.log_interval, func=self.log_status)]
        return []

    @hookimpl
    def on_reconcile_result(self, ctx: BotContext, result: ReconcileResult) -> None:
        """Keep the last reconcile."""
        self.model.observe_reconcile(result, ctx.clock.time())

    @hookimpl
    def on_stream_state(self, status: StreamStatus) -> None:
        """Keep each stream's state."""
        self.model.observe_stream(status)

    @hookimpl
    def on_plugin_error(self, error: PluginError) -> None:
        """Keep the last plugin failure."""
        self.model.observe_plugin_error(error)

    # ------------------------------------------------------------------- lifecycle

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        self._ctx = ctx
        now = ctx.clock.time()
        self.model.started_at = now
        stdout = self._stdout if self._stdout is not None else sys.stdout
        stderr = self._stderr if self._stderr is not None else sys.stderr
        from .display import LiveDisplay, is_terminal, resolve_mode

        self.mode, stream = resolve_mode(self.config.mode, stdout=stdout, stderr=stderr)
        if self.mode == "live" and stream is not None:
            display = LiveDisplay(
                stream,
                redirect_stdout=is_terminal(stdout),
                redirect_stderr=is_terminal(stderr),
                width=self._width,
            )
            try:
                await asyncio.to_thread(display.start)
            except Exception as exc:  # noqa: BLE001 - a status display must not stop the bot
                logger.warning("status: live display unavailable ({!r}); log lines instead", exc)
                self.mode = "log"
            else:
                self._display = display
        window = (
            self.config.log_interval
            if self.mode == "log"
            else max(LIVE_RATE_WINDOW, 3 * self.config.interval)
        )
        self._meter = RateMeter(window)
        self._meter.update(now, event_counts(ctx.stats().get("hooks", {})))
        logger.info("status: {}", _describe(self.mode, self.config))
        try:
            yield
        finally:
            await self._stop()

    async def _stop(self) -> None:
        display, self._display = self._display, None
        if display is not None:
            from .render import render_panel

            last = render_panel(self._take_snapshot(), max_rows=self.config.max_rows)
            await asyncio.to_thread(display.stop, last)
        elif self.mode == "log":
            logger.info("status at stop: {}", self._line())

    # --------------------------------------------------------------------- showing

    def snapshot(self) -> StatusSnapshot:
        """The figures now, without event rates (``last_snapshot``, the one shown last, has
        them). Other plugins may call it through ``ctx.plugin("status")``."""
        if self._ctx is None:
            raise RuntimeError("the status plugin has not started")
        return self.model.snapshot(self._ctx)

    async def refresh(self) -> None:
        """Redraw the live display (the drawing runs in a worker thread)."""
        display = self._display
        if display is None:
            return
        from .render import render_panel

        renderable = render_panel(self._take_snapshot(), max_rows=self.config.max_rows)
        await asyncio.to_thread(display.show, renderable)

    def log_status(self) -> None:
        """Log the status line."""
        logger.info("status: {}", self._line())

    def _line(self) -> str:
        from .render import render_line

        self.last_line = render_line(self._take_snapshot(), max_rows=self.config.max_rows)
        return self.last_line

    def _take_snapshot(self) -> StatusSnapshot:
        if self._ctx is None:
            raise RuntimeError("the status plugin has not started")
        snapshot = self.model.snapshot(self._ctx, meter=self._meter)
        self.last_snapshot = snapshot
        return snapshot


def _describe(mode: Resolved, config: StatusSettings) -> str:
    if mode == "live":
        return f"live display, refreshed every {config.interval:g} s"
    if mode == "log":
        return f"a status line every {config.log_interval:g} s"
    return "display off"
