"""The bot context handed to every hook: what a plugin may see and do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from loguru import logger

from framework.bus import HookBus
from framework.cache import AccountCache, AccountView
from framework.clock import Clock
from framework.exchange import ExchangeConnector
from framework.scheduler import Scheduler
from framework.settings import Settings
from framework.types import (
    Balance,
    DailyReport,
    Fill,
    Order,
    Position,
    ReconcileResult,
    StreamStatus,
    Tick,
)


class Hooks:
    """Typed emitters for every notification hook (plugins call these, never ``pm.hook``)."""

    __slots__ = ("_ctx", "_notify")

    def __init__(self, bus: HookBus, ctx: BotContext) -> None:
        self._notify = bus.notify
        self._ctx = ctx

    def on_tick(self, tick: Tick) -> None:
        """Emit ``on_tick``."""
        self._notify("on_tick", (self._ctx, tick))

    def on_balance_update(self, before: Balance | None, after: Balance) -> None:
        """Emit ``on_balance_update``."""
        self._notify("on_balance_update", (self._ctx, before, after))

    def on_position_update(self, before: Position | None, after: Position) -> None:
        """Emit ``on_position_update``."""
        self._notify("on_position_update", (self._ctx, before, after))

    def on_order_update(self, before: Order | None, after: Order) -> None:
        """Emit ``on_order_update``."""
        self._notify("on_order_update", (self._ctx, before, after))

    def on_fill(self, fill: Fill) -> None:
        """Emit ``on_fill``."""
        self._notify("on_fill", (self._ctx, fill))

    def on_reconcile_result(self, result: ReconcileResult) -> None:
        """Emit ``on_reconcile_result``."""
        self._notify("on_reconcile_result", (self._ctx, result))

    def on_stream_state(self, status: StreamStatus) -> None:
        """Emit ``on_stream_state``."""
        self._notify("on_stream_state", (self._ctx, status))

    def on_daily_report(self, report: DailyReport) -> None:
        """Emit ``on_daily_report``."""
        self._notify("on_daily_report", (self._ctx, report))


class BotContext:
    """Read access to the bot and the few actions a plugin may take."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        bus: HookBus,
        scheduler: Scheduler,
        plugin_configs: Mapping[str, Any],
        plugin_lookup: Callable[[str], object | None] = lambda name: None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.scheduler = scheduler
        self.hooks = Hooks(bus, self)
        self.account = AccountCache(self.hooks)  # writers: the connector and reconciliation
        self.cache: AccountView = self.account.view  # what everyone else reads
        self._bus = bus
        self._plugin_configs = dict(plugin_configs)
        self._plugin_lookup = plugin_lookup
        self._exchange: ExchangeConnector | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop_requested: asyncio.Event | None = None
        self.stop_reason = ""

    @property
    def exchange(self) -> ExchangeConnector:
        """The exchange connector; ``RuntimeError`` if no plugin provided one."""
        if self._exchange is None:
            raise RuntimeError("no exchange connector: no plugin answered provide_exchange")
        return self._exchange

    @property
    def has_exchange(self) -> bool:
        """True once a connector was provided."""
        return self._exchange is not None

    def set_exchange(self, exchange: ExchangeConnector | None) -> None:
        """Used by the runtime after ``provide_exchange``."""
        self._exchange = exchange

    def plugin_config(self, name: str) -> Any:
        """The validated settings block of plugin ``name`` (``None`` if it declares none)."""
        return self._plugin_configs.get(name)

    def plugin(self, name: str) -> object | None:
        """Another plugin's object by name (for example to read its stats), or ``None``."""
        return self._plugin_lookup(name)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str, owner: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the core owns: cancelled at shutdown, errors reported."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{owner}:{name}")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, owner))
        return task

    def _task_done(self, task: asyncio.Task[Any], owner: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._bus.report_failure(owner, f"task {task.get_name()}", exc)

    async def cancel_tasks(self) -> None:
        """Cancel every spawned task and wait for them (shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        leftover = [t for t in tasks if not t.done()]
        if leftover:
            logger.warning("{} tasks did not finish after cancel", len(leftover))

    def request_stop(self, reason: str) -> None:
        """Ask the bot to shut down gracefully."""
        if not self.stop_reason:
            self.stop_reason = reason
        if self._stop_requested is not None:
            self._stop_requested.set()

    def bind_stop_event(self, event: asyncio.Event) -> None:
        """Used by the runtime: ``request_stop`` sets this event."""
        self._stop_requested = event
        if self.stop_reason:
            event.set()

    def stats(self) -> dict[str, Any]:
        """Hook counters, plugin errors, dropped events, disabled plugins."""
        return self._bus.stats()
