"""``Hooks``: the typed facade over the hook bus, one method per hookspec.

The core calls plugins only through it (plugins call the notification emitters), never through
``pm.hook``: each method goes through the bus's one call path (``framework/bus.py``), so errors
are attributed, budgets enforced and the circuit breaker fed the same way for every hook.

Each method takes its hookspec's arguments, in the hookspec's order, minus ``ctx`` (the facade
passes the bot context it was built with); extra parameters, if any, are keyword-only.
``tests/core/test_hooks_facade.py`` pins this against ``framework/hookspecs.py``.

* Notifications (``on_*``) return nothing and never wait (``HookBus.notify``).
* Questions return one ``Outcome`` per plugin, or the first answer (``provide_exchange``).
* Setup hooks asked while loading (``declare_settings``, ``validate_settings``,
  ``register_commands``) only attribute failures: the loader makes them load errors (exit 2).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from loguru import logger

from framework.bus import HookBus, Outcome
from framework.clock import SystemClock
from framework.hookspecs import PROJECT

if TYPE_CHECKING:
    from framework.settings import Settings
    from framework.types import (
        Alert,
        Balance,
        CommandRecord,
        DailyReport,
        DegradedStatus,
        Fill,
        KillSwitchResume,
        KillSwitchTrip,
        Order,
        PluginError,
        Position,
        ReconcileResult,
        StreamStatus,
        Tick,
    )


class Hooks:
    """Typed calls of every hook through the bus, with the bot context filled in."""

    __slots__ = (
        "_bus",
        "_ctx",
        "_last_ticks",
        "_max_tick_age_ms",
        "_notify",
        "_stale_burst",
        "_tick_bound_ms",
        "_time",
        "account_listener",
        "oldest_stale_tick_ms",
        "stale_ticks",
        "tick_listener",
    )

    def __init__(self, bus: HookBus, ctx: Any, last_ticks: dict[str, Tick] | None = None) -> None:
        self._bus = bus
        self._notify = bus.notify
        self._ctx = ctx  # the BotContext (``None`` while loading: only setup hooks are asked)
        self._last_ticks: dict[str, Tick] = {} if last_ticks is None else last_ticks
        clock = getattr(ctx, "clock", None)
        # The system clock's time() is time.time(): call it directly on this hot path.
        self._time = time.time if clock is None or type(clock) is SystemClock else clock.time
        settings = getattr(ctx, "settings", None)
        max_age = settings.runtime.max_tick_age if settings is not None else float("inf")
        self._max_tick_age_ms = max_age * 1000
        self._tick_bound_ms = self._max_tick_age_ms  # -inf while stale ticks are dropped
        self._stale_burst = 0
        self.stale_ticks = 0  # ticks dropped as older than runtime.max_tick_age
        self.oldest_stale_tick_ms = 0.0
        # Called after every balance or position update (the kill switch's check).
        self.account_listener: Callable[[], None] | None = None
        # Called once by the next tick, then cleared (the kill switch waits for a price).
        self.tick_listener: Callable[[], None] | None = None

    # ----------------------------------------------------------------- setup questions

    def declare_settings(self, *, plugin: str, factory: object) -> Outcome | None:
        """Ask a plugin's factory (not yet instantiated) for its settings schema; ``None``
        if it does not implement ``declare_settings``."""
        declare = getattr(factory, "declare_settings", None)
        if declare is None or getattr(declare, f"{PROJECT}_impl", None) is None:
            return None
        return self._bus.invoke(plugin, "declare_settings", declare, report=False)

    def validate_settings(self, settings: Settings) -> list[Outcome]:
        """Every plugin checks cross-section settings (loading: failures only attributed)."""
        return self._bus.ask_sync("validate_settings", {"settings": settings}, report=False)

    def register_commands(self) -> list[Outcome]:
        """Every plugin's CLI sub-commands (loading: failures only attributed)."""
        return self._bus.ask_sync("register_commands", {}, report=False)

    async def lifespan(self, *, plugins: Iterable[str] | None = None) -> list[Outcome]:
        """Each plugin's (or only ``plugins``') lifespan context manager."""
        return await self._bus.ask("lifespan", {"ctx": self._ctx}, plugins=plugins)

    async def register_jobs(self) -> list[Outcome]:
        """Every plugin's scheduled jobs."""
        return await self._bus.ask("register_jobs", {"ctx": self._ctx})

    async def last_trade_ids(self) -> list[Outcome]:
        """Ask every recorder for its trade cursor per symbol (and the trades it holds)."""
        return await self._bus.ask("last_trade_ids", {"ctx": self._ctx})

    async def provide_exchange(self) -> Outcome | None:
        """The first plugin that provides an exchange connector (``None``: nobody did)."""
        return await self._bus.ask_first("provide_exchange", {"ctx": self._ctx})

    async def warm_up(self) -> list[Outcome]:
        """Let every plugin prepare from the exchange before the strategies are released."""
        return await self._bus.ask("warm_up", {"ctx": self._ctx})

    async def reconcile_now(self, reason: str) -> Outcome | None:
        """The first plugin that reconciles on request (``None``: nobody does)."""
        return await self._bus.ask_first("reconcile_now", {"ctx": self._ctx, "reason": reason})

    async def check_exchange(self) -> Outcome | None:
        """The first plugin's read-only check of the exchange (``None``: nobody checks)."""
        return await self._bus.ask_first("check_exchange", {"ctx": self._ctx})

    async def summarize_run(self) -> list[Outcome]:
        """Every plugin's sections of the run summary."""
        return await self._bus.ask("summarize_run", {"ctx": self._ctx})

    # ------------------------------------------------------------------- notifications

    def on_tick(self, tick: Tick) -> None:
        """Emit ``on_tick`` (and remember it as the symbol's last tick).

        A tick whose exchange event time is more than ``runtime.max_tick_age`` behind the
        bot's clock (it waited in a socket buffer while the loop was blocked) is dropped and
        counted, never handed to a plugin as fresh.

        Hot path: one clock read, one comparison and one attribute test. While stale ticks are
        being dropped the bound is ``-inf``, so every tick takes ``_past_bound`` until a fresh
        one ends the run.
        """
        if self._time() * 1000 - tick.event_time > self._tick_bound_ms and self._past_bound(tick):
            return
        self._last_ticks[tick.symbol] = tick
        if self.tick_listener is not None:
            self.tick_listener()
        self._notify("on_tick", (self._ctx, tick))

    def _past_bound(self, tick: Tick) -> bool:
        """True if ``tick`` is stale (counted, dropped); False for the first fresh tick after
        stale ones (the run's end is logged, the bound restored)."""
        age_ms = self._time() * 1000 - tick.event_time
        if age_ms > self._max_tick_age_ms:
            self._stale(tick, age_ms)
            return True
        logger.bind(log_key="stale_ticks").info(
            "{} stale ticks dropped; ticks are fresh again", self._stale_burst
        )
        self._stale_burst = 0
        self._tick_bound_ms = self._max_tick_age_ms
        return False

    def _stale(self, tick: Tick, age_ms: float) -> None:
        self.stale_ticks += 1
        self.oldest_stale_tick_ms = max(self.oldest_stale_tick_ms, age_ms)
        if not self._stale_burst:
            logger.bind(log_key="stale_ticks").warning(
                "dropping ticks older than runtime.max_tick_age ({:g} s): {} tick is {:.3f} s "
                "old (the loop was blocked, or the host clock is ahead of the exchange's)",
                self._max_tick_age_ms / 1000,
                tick.symbol,
                age_ms / 1000,
            )
        self._stale_burst += 1
        self._tick_bound_ms = -math.inf  # every tick is looked at until a fresh one comes

    def on_balance_update(self, before: Balance | None, after: Balance) -> None:
        """Emit ``on_balance_update``."""
        self._notify("on_balance_update", (self._ctx, before, after))
        if self.account_listener is not None:
            self.account_listener()

    def on_position_update(self, before: Position | None, after: Position) -> None:
        """Emit ``on_position_update``."""
        self._notify("on_position_update", (self._ctx, before, after))
        if self.account_listener is not None:
            self.account_listener()

    def on_order_update(self, before: Order | None, after: Order) -> None:
        """Emit ``on_order_update``."""
        self._notify("on_order_update", (self._ctx, before, after))

    def on_fill(self, fill: Fill) -> None:
        """Emit ``on_fill``."""
        self._notify("on_fill", (self._ctx, fill))

    def on_trade_cursor(self, symbol: str, trade_id: int) -> None:
        """Emit ``on_trade_cursor``."""
        self._notify("on_trade_cursor", (self._ctx, symbol, trade_id))

    def on_reconcile_result(self, result: ReconcileResult) -> None:
        """Emit ``on_reconcile_result``."""
        self._notify("on_reconcile_result", (self._ctx, result))

    def on_stream_state(self, status: StreamStatus) -> None:
        """Emit ``on_stream_state``."""
        self._notify("on_stream_state", (self._ctx, status))

    def on_degraded(self, status: DegradedStatus) -> None:
        """Emit ``on_degraded``."""
        self._notify("on_degraded", (self._ctx, status))

    def on_daily_report(self, report: DailyReport) -> None:
        """Emit ``on_daily_report``."""
        self._notify("on_daily_report", (self._ctx, report))

    def on_command(self, record: CommandRecord) -> None:
        """Emit ``on_command``."""
        self._notify("on_command", (self._ctx, record))

    def on_alert(self, alert: Alert) -> None:
        """Emit ``on_alert``."""
        self._notify("on_alert", (self._ctx, alert))

    def on_plugin_error(self, error: PluginError) -> None:
        """Emit ``on_plugin_error`` (the bus does, after every failure it reports)."""
        self._notify("on_plugin_error", (self._ctx, error))

    def on_kill_switch(self, trip: KillSwitchTrip) -> None:
        """Emit ``on_kill_switch``."""
        self._notify("on_kill_switch", (self._ctx, trip))

    def on_kill_switch_resume(self, resume: KillSwitchResume) -> None:
        """Emit ``on_kill_switch_resume``."""
        self._notify("on_kill_switch_resume", (self._ctx, resume))
