"""The ``smart_logging`` plugin: owns loguru's handlers while the bot runs."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

from loguru import logger

from framework import BotContext, SettingsError, cancel_and_wait, hookimpl
from framework.log_guard import add_default_sink
from framework.redact import Redactor, compile_pattern

from .gate import SuppressGate, install_gate, remove_gate
from .intercept import StdlibRouting
from .limiter import RateLimiter, Repeat
from .records import (
    STRATEGY_PREFIX,
    Attribution,
    LevelTable,
    RecordFilter,
    describe_key,
    site_of,
    write_repeat,
)
from .settings import SmartLoggingSettings
from .sinks import Sinks

if TYPE_CHECKING:
    from loguru import Record

NAME = "smart_logging"
PLUGIN_GROUP = "tradeloop.plugins"
TOP_SUPPRESSED = 10


def level_no(name: str) -> int:
    """The number of a loguru level name."""
    return logger.level(name).no


class SmartLogging:
    """Rate-limited, aggregated, redacted logging to console, JSON and a rotated file.

    Built-in; replace it by setting ``plugins.smart_logging.enabled: false`` and enabling
    another plugin. Other plugins read its counters with ``ctx.plugin("smart_logging").stats()``.
    """

    start_priority = 0
    """Started first (the core's default is 100), so every other start is logged through it."""

    def __init__(
        self,
        config: SmartLoggingSettings | None = None,
        *,
        time_source: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or SmartLoggingSettings()
        for index, pattern in enumerate(self.config.redact_patterns):
            try:
                compile_pattern(pattern)
            except re.error as exc:
                raise SettingsError(
                    f"plugins.{NAME}.redact_patterns[{index}]",
                    pattern,
                    f"a valid regular expression ({exc})",
                ) from None
        self.limiter: RateLimiter[Record] = RateLimiter(
            self.config.rate_limit_window,
            time_source=time_source,
            site_of=site_of,
            max_keys=self.config.max_keys,
        )
        self._sinks = Sinks()
        self._stdlib: StdlibRouting | None = None
        self._gate: SuppressGate | None = None
        self.installed = False

    # ------------------------------------------------------------------------- hooks

    @staticmethod
    @hookimpl
    def declare_settings() -> type[SmartLoggingSettings]:
        """The ``plugins.smart_logging`` block."""
        return SmartLoggingSettings

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Install the logging configuration at start; flush and restore defaults at stop."""
        return self._lifespan(ctx)

    @hookimpl
    def summarize_run(self) -> Mapping[str, Any]:
        """The ``logging`` section of the run summary."""
        return {"logging": self.stats(per_key=False)}

    # --------------------------------------------------------------------- lifecycle

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        exchange = ctx.settings.exchange
        self.install(secrets=(exchange.api_key, exchange.api_secret), modules=plugin_modules(ctx))
        task = ctx.spawn(self._flush_periodically(), name="flush", owner=NAME)
        try:
            yield
        finally:
            await cancel_and_wait(task)
            self.close_windows()
            try:
                # Wait for the queued lines off the event loop; then removal is instant.
                await asyncio.to_thread(self.drain)
            finally:
                self.uninstall()

    def install(
        self, *, secrets: Iterable[str] = (), modules: Mapping[str, str] | None = None
    ) -> None:
        """Replace loguru's handlers with the plugin's and route stdlib logging into them."""
        if self.installed:
            return
        config = self.config
        levels = LevelTable(
            level_no(config.level), {k: level_no(v) for k, v in config.levels.items()}
        )
        record_filter = RecordFilter(
            limiter=self.limiter,
            redactor=Redactor(secrets, config.redact_patterns),
            levels=levels,
            attribution=Attribution(modules),
            emit_repeat=self._write_repeat,
        )
        logger.remove()
        self.installed = True
        try:
            self._sinks.add(config, record_filter)
        except BaseException:
            self.uninstall()
            raise
        # Suppressed records are dropped before loguru builds them while only our handlers run.
        self._gate = SuppressGate(self.limiter, levels, logger._core.handlers)  # type: ignore[attr-defined]
        install_gate(self._gate)
        if config.intercept_stdlib:
            self._stdlib = StdlibRouting(levels.default, levels.levels)
            self._stdlib.install()

    def close_windows(self) -> int:
        """Write the aggregated line of every open window; let everything through afterwards."""
        repeats = self.limiter.close()
        for repeat in repeats:
            self._write_repeat(repeat)
        return len(repeats)

    def uninstall(self) -> None:
        """Flush pending counts, remove the plugin's handlers, restore loguru's default sink."""
        if not self.installed:
            return
        if self._gate is not None:
            remove_gate(self._gate)
            self._gate = None
        self.close_windows()
        if self._stdlib is not None:
            self._stdlib.restore()
            self._stdlib = None
        self._sinks.remove()
        self.installed = False
        add_default_sink()  # the core's default: stderr, level DEBUG, no variable values

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every line logged so far is written (blocking; call it off the loop)."""
        return self._sinks.drain(timeout)

    def flush_expired(self) -> int:
        """Write the aggregated lines of windows that have closed; how many were written."""
        repeats = self.limiter.flush_expired()
        for repeat in repeats:
            self._write_repeat(repeat)
        return len(repeats)

    async def _flush_periodically(self) -> None:
        interval = min(max(self.config.rate_limit_window / 4, 0.05), 1.0)
        while True:
            await asyncio.sleep(interval)
            self.flush_expired()

    def _write_repeat(self, repeat: Repeat) -> None:
        if self.installed:
            write_repeat(repeat)

    # ------------------------------------------------------------------------- stats

    def stats(self, *, per_key: bool = True, top: int = TOP_SUPPRESSED) -> dict[str, Any]:
        """Counters: totals, the most suppressed keys and (``per_key``) every key's counts."""
        keys = self.limiter.per_key(describe_key)
        ranked = sorted(
            ((k, s.suppressed) for k, s in keys.items() if s.suppressed), key=lambda i: -i[1]
        )
        out: dict[str, Any] = {
            "emitted": self.limiter.emitted,
            "suppressed": self.limiter.suppressed,
            "aggregated_lines": self.limiter.aggregated_lines,
            "pending": self.limiter.pending(),
            "sink_errors": self._sinks.errors,
            "top_suppressed": dict(ranked[:top]),
        }
        if per_key:
            out["keys"] = {
                k: {
                    "emitted": s.emitted,
                    "suppressed": s.suppressed,
                    "aggregated_lines": s.aggregated_lines,
                }
                for k, s in keys.items()
            }
        return out


def plugin_modules(ctx: BotContext) -> dict[str, str]:
    """``{module: plugin name}`` for loaded plugins and strategies, where it is unambiguous.

    An entry point's module (a package for package plugins) covers its submodules; otherwise
    the module of the plugin's class. Two strategy instances of one class share a module, so
    neither is attributed by module (a bound ``plugin``/``strategy`` still is).
    """
    candidates: dict[str, str | None] = {
        ep.name: ep.module for ep in entry_points(group=PLUGIN_GROUP)
    }
    for name in ctx.settings.plugins:
        candidates.setdefault(name, None)
    for strategy in ctx.settings.strategies:
        candidates.setdefault(f"{STRATEGY_PREFIX}{strategy.id}", None)
    owners: dict[str, set[str]] = {}
    for name, module in candidates.items():
        plugin = ctx.plugin(name)
        if plugin is None or name == NAME:
            continue
        if module is None:
            module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        owners.setdefault(module, set()).add(name)
    return {module: next(iter(n)) for module, n in owners.items() if len(n) == 1}
