"""The bot: starts plugins, the connector and the scheduler, runs, and shuts down gracefully."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import orjson
from loguru import logger

from framework.bus import HookBus, PluginOverrun
from framework.cache import AccountCache
from framework.clock import Clock, SystemClock
from framework.context import BotContext, roles_of
from framework.errors import PluginStartError, TradeloopError
from framework.exchange import FillHistory
from framework.loader import LoadedPlugins
from framework.log_guard import guard_logging
from framework.scheduler import Scheduler
from framework.settings import Settings, secret_values
from framework.strategy import STRATEGY_PREFIX, Strategy
from framework.types import ExchangeCheck, TradeCursors
from framework.watchdog import LoopWatchdog

T = TypeVar("T")

ENDPOINT_ROLE = "exchange_endpoint"
"""Plugins with this role publish where the exchange is; ``check --exchange`` starts them."""

STOP_GRACE = 0.25
"""Seconds a stop that overran its share gets to finish its cancellation."""
MIN_STOP_SHARE = 0.05
"""No plugin's stop gets less time than this, even when the budget is spent."""
STOP_FILL_QUERIES = 20
"""Orders whose missing trades a stop reads back at most (one trade-list read each)."""


class Bot:
    """One running bot: its settings, plugins, hook bus, scheduler and context."""

    def __init__(
        self, settings: Settings, loaded: LoadedPlugins, *, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.loaded = loaded
        guard_logging(secret_values(settings.as_dict()))
        self.clock = clock or SystemClock()
        self.bus = HookBus(loaded.pm, settings.hooks, wall_time=self.clock.time)
        self.scheduler = Scheduler(
            self.clock,
            is_disabled=self.bus.is_disabled,
            on_failure=self._job_failed,
        )
        self.ctx = BotContext(
            settings=settings,
            clock=self.clock,
            bus=self.bus,
            scheduler=self.scheduler,
            plugin_configs=loaded.configs,
            plugin_lookup=loaded.pm.get_plugin,
            plugin_name=loaded.pm.get_name,
            exchange_candidates=self.bus.implementers("provide_exchange"),
            strategy_names=loaded.strategy_names,
        )
        self.bus.bind(self.ctx)
        self.hooks = self.ctx.hooks
        self.account = self.ctx._account  # the core's own handle on the writable cache
        self._started: list[tuple[str, AbstractAsyncContextManager[None]]] = []
        self._stop_event: asyncio.Event | None = None
        runtime = settings.runtime
        bus = self.bus
        self.watchdog = LoopWatchdog(
            runtime.loop_check_interval,
            runtime.loop_stall_warning,
            plugins=bus.plugins,
            last_overrun=lambda: bus.last_overrun,
        )
        self.ctx.bind_loop_watchdog(self.watchdog.snapshot)
        self._watchdog_task: asyncio.Task[None] | None = None
        self._kill_switch_task: asyncio.Task[None] | None = None
        self._started_at = 0.0
        self._start_monotonic = 0.0
        self.summary: dict[str, Any] = {}
        self.stop_failures: dict[str, str] = {}
        self.running = False

    def _job_failed(self, owner: str, job: str, exc: BaseException) -> None:
        """A strategy's failing job pauses it, like a failing hook; other plugins' jobs just
        keep their schedule (the scheduler logged the error)."""
        if self.bus.pauses_on_failure(owner):
            self.bus.report_failure(owner, job, exc)

    # ------------------------------------------------------------------------- startup

    async def start(self) -> None:
        """Start plugins (lifespan), get the exchange connector, register and start jobs."""
        self._started_at = self.clock.time()
        self._start_monotonic = time.monotonic()
        self._stop_event = asyncio.Event()
        self.ctx.bind_stop_event(self._stop_event)
        self._watchdog_task = asyncio.get_running_loop().create_task(
            self.watchdog.run(), name="core:loop_watchdog"
        )
        self.watchdog.start_sampler(asyncio.get_running_loop())
        release_startup = self.ctx.hold_strategies("startup")
        try:
            self.ctx.kill_switch.start()  # a trip saved by an earlier run holds at once
            await self._start_plugins()
            await self._seed_trade_cursors()
            outcome = await self.hooks.provide_exchange()
            if outcome is not None:
                if not outcome.ok:
                    raise _start_error(outcome.plugin, "provide_exchange", outcome.error)
                self.ctx.set_exchange(outcome.value, outcome.plugin)
                logger.info("exchange connector provided by {!r}", outcome.plugin)
                await self.ctx.load_strategy_states()
                await self._recover_orders()
            else:
                self.ctx.set_exchange(None, None)
                logger.warning("no exchange connector enabled: running plugins and jobs only")
            for outcome in await self.hooks.register_jobs():
                if not outcome.ok:
                    raise _start_error(outcome.plugin, "register_jobs", outcome.error)
                self.scheduler.add_all(outcome.value or (), owner=outcome.plugin)
            self.ctx.kill_switch.arm()
            self._kill_switch_task = asyncio.get_running_loop().create_task(
                self.ctx.kill_switch.run(), name="core:kill_switch"
            )
            self.scheduler.start()
            await self.hooks.warm_up()  # failures are reported; strategies still hold
        except BaseException:
            await self._shutdown()
            raise
        self.running = True
        self.watchdog.started()
        release_startup()
        logger.info(
            "tradeloop started: env={} exchange={} plugins={}",
            self.settings.env,
            self.settings.exchange.name,
            ", ".join(self.loaded.order) or "none",
        )

    async def _seed_trade_cursors(self) -> None:
        """Give the cache what recorders hold of the account's trades (``last_trade_ids``):
        per symbol the smallest cursor, the earliest ``since``, and the trades held after the
        cursor by every recorder that answered for the symbol; so trades made while the bot
        was down, or lost by a recorder in a crash, are read back and recorded."""
        answers: list[TradeCursors] = []
        for outcome in await self.hooks.last_trade_ids():
            if not outcome.ok:
                logger.bind(plugin=outcome.plugin).error(
                    "plugin {!r} could not say which trades it holds; trades made while the "
                    "bot was down are not recorded for it",
                    outcome.plugin,
                )
                continue
            answer = _trade_cursors(outcome.value)
            if answer is not None:
                answers.append(answer)
        known: dict[str, int] = {}
        for answer in answers:
            for symbol, trade_id in answer.cursors.items():
                known[symbol] = min(trade_id, known.get(symbol, trade_id))
        sinces = [a.since for a in answers if a.since is not None]
        if sinces and len(sinces) == len(answers):
            self.account.trades_since = min(sinces)
        held = 0
        for symbol, order_id, trade_id, qty in _held_by_all(answers, known):
            self.account.hold_fill(symbol, order_id, trade_id, qty)
            held += 1
        for symbol, trade_id in known.items():
            self.account.set_trade_cursor(symbol, trade_id)
        if known or held:
            logger.info(
                "trades recorded through: {}{}",
                ", ".join(f"{s} {t}" for s, t in known.items()) or "none",
                f" (and {held} after)" if held else "",
            )

    async def _start_plugins(self, only: str | None = None) -> None:
        strategies = frozenset(self.loaded.strategy_names)
        for name in self.loaded.order if only is None else [only]:
            if name in strategies:
                await self._load_strategy_state(name)
            for outcome in await self.hooks.lifespan(plugins=[name]):
                if not outcome.ok:
                    raise _start_error(name, "lifespan", outcome.error)
                if outcome.value is None:
                    continue
                manager: AbstractAsyncContextManager[None] = outcome.value
                # the start is plugin code too: through the bus, within the lifespan budget
                entered = await self.bus.invoke_async(name, "lifespan", manager.__aenter__)
                if not entered.ok:
                    raise _start_error(name, "lifespan", entered.error) from entered.error
                self._started.append((name, manager))

    async def _load_strategy_state(self, name: str) -> None:
        """Before the first strategy starts: every saved state; then this instance's."""
        await self.ctx.load_strategy_states()
        plugin = self.loaded.pm.get_plugin(name)
        if isinstance(plugin, Strategy):
            plugin.state = self.ctx.strategy_state(name.removeprefix(STRATEGY_PREFIX))

    async def _recover_orders(self) -> None:
        """Orders earlier runs sent without learning the answer: looked up, into the cache."""
        try:
            found = await self.ctx.intents.recover(self.ctx.exchange.query_order)
        except Exception as exc:  # noqa: BLE001 - the next start tries again
            logger.opt(exception=exc).error("orders of earlier runs not looked up: {!r}", exc)
            return
        for order in found:
            self.ctx.apply_order_answer(order)

    async def check_exchange(self) -> ExchangeCheck | None:
        """``tradeloop check --exchange``: start only the plugins that publish where the
        exchange is (role ``exchange_endpoint``), ask ``check_exchange``, stop them."""
        try:
            for name in self.loaded.order:
                if ENDPOINT_ROLE in roles_of(self.loaded.pm.get_plugin(name)):
                    await self._start_plugins(only=name)
            outcome = await self.hooks.check_exchange()
        finally:
            await self._stop_plugins(time.monotonic() + self.settings.runtime.shutdown_timeout)
            await _logged("hook bus", self.bus.aclose(), STOP_GRACE)
        if outcome is None:
            return None
        if not outcome.ok:
            raise _start_error(outcome.plugin, "check_exchange", outcome.error)
        result = outcome.value
        return result if isinstance(result, ExchangeCheck) else None

    # ---------------------------------------------------------------------------- run

    async def run(self, duration: float | None = None) -> dict[str, Any]:
        """Start, run until a signal, ``request_stop`` or ``duration`` seconds, then stop."""
        loop = asyncio.get_running_loop()
        installed = _install_signal_handlers(loop, self.ctx.request_stop)
        try:
            await self.start()
            assert self._stop_event is not None
            try:
                async with asyncio.timeout(duration):
                    await self._stop_event.wait()
            except TimeoutError:
                self.ctx.request_stop(f"--for {duration:g} s elapsed")
            return await self.stop()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def request_stop(self, reason: str) -> None:
        """Ask for a graceful shutdown."""
        self.ctx.request_stop(reason)

    # ------------------------------------------------------------------------ shutdown

    async def stop(self) -> dict[str, Any]:
        """Stop jobs, tasks, the bus and every plugin within the budget, then collect the
        summary (so it counts what the stops did, e.g. records a journal could not write)."""
        await self._shutdown()
        self.summary = await self._collect_summary()
        self.summary["duration_s"] = round(time.monotonic() - self._start_monotonic, 3)
        self.summary["ended_at"] = _iso(self.clock.time())
        return self.summary

    async def _shutdown(self) -> None:
        """Jobs and spawned tasks, then the bus's queues, then each plugin in reverse start
        order with its own share of ``runtime.shutdown_timeout``."""
        self.running = False
        self.ctx.begin_shutdown(self.ctx.stop_reason or "stopped")
        timeout = self.settings.runtime.shutdown_timeout
        end = time.monotonic() + timeout
        try:
            await self._stop_kill_switch()
            await _logged("jobs", self.scheduler.stop(), timeout / 8)
            await _logged("fills of this run", self._settle_fills(), timeout / 8)
            await _logged("spawned tasks", self.ctx.cancel_tasks(), timeout / 8)
            if not await self.bus.drain(within=max(0.0, min(timeout / 4, end - time.monotonic()))):
                logger.warning("shutdown: queued notifications not all handled in time")
            await self._stop_plugins(end)
            self.ctx.kill_switch.stop()
        finally:
            await _logged("hook bus", self.bus.aclose(), STOP_GRACE)
            await _logged("spawned tasks", self.ctx.cancel_tasks(), STOP_GRACE)
            await self._stop_watchdog()

    async def _settle_fills(self) -> None:
        """Before the stream closes at stop: the trades of orders this run saw fill that the
        cache lacks (the exchange's answer came, the trade event not yet) are read back from
        the order's trade list and recorded, so recorders get every fill of the run."""
        if not self.ctx.has_exchange or not isinstance(self.ctx.exchange, FillHistory):
            return
        exchange: FillHistory = self.ctx.exchange
        since = int(self._started_at * 1000)
        gaps = [g for g, _ in self.account.fill_gaps(2**62) if g.event_time >= since]
        for order in gaps[:STOP_FILL_QUERIES]:
            trades = await exchange.fetch_fills(order.symbol, order.order_id)
            for trade in trades:
                if trade.event_time < since:
                    continue  # before this run: the startup reconcile's to judge
                if not trade.client_order_id:
                    trade = msgspec.structs.replace(trade, client_order_id=order.client_order_id)
                if self.account.apply_fill(trade):
                    logger.info(
                        "fill {} {} of order {} read back at stop",
                        trade.symbol,
                        trade.trade_id,
                        order.order_id,
                    )

    async def _stop_kill_switch(self) -> None:
        task, self._kill_switch_task = self._kill_switch_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def _stop_watchdog(self) -> None:
        task, self._watchdog_task = self._watchdog_task, None
        self.watchdog.stop_sampler()
        if task is not None:
            task.cancel()
            await asyncio.wait([task])

    async def _stop_plugins(self, end: float) -> None:
        """Stop every started plugin, last started first. Each stop may use what is left of
        the budget except a reserve for every stop still to run (half the budget, split evenly
        over all of them); a stop that fails or overruns is reported and cut off, and the
        others still stop."""
        failures: dict[str, str] = {}
        reserve = self.settings.runtime.shutdown_timeout / (2 * max(1, len(self._started)))
        while self._started:
            name, manager = self._started.pop()
            started = time.monotonic()
            budget = max(MIN_STOP_SHARE, end - started - reserve * len(self._started))
            await self.bus.drain(within=budget / 2, plugins=[name])
            budget = max(MIN_STOP_SHARE, budget - (time.monotonic() - started))
            error = await _bounded(f"plugin {name!r}", manager.__aexit__(None, None, None), budget)
            if error is not None:
                failures[name] = f"{type(error).__name__}: {error}"
                self.bus.report_failure(name, "lifespan", error)
        self.stop_failures.update(failures)
        if failures:
            logger.error(
                "shutdown: {} of the plugins failed to stop cleanly: {}",
                len(failures),
                "; ".join(f"{name}: {why}" for name, why in failures.items()),
            )

    async def _collect_summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "started_at": _iso(self._started_at),
            "exit_reason": self.ctx.stop_reason or "stopped",
            "env": self.settings.env,
            "exchange": self.settings.exchange.name,
            "plugins": list(self.loaded.order),
            "jobs": {
                name: {"runs": s.runs, "failures": s.failures, "skipped": s.skipped}
                for name, s in self.scheduler.stats().items()
            },
        }
        for outcome in await self.hooks.summarize_run():
            if outcome.ok and outcome.value:
                summary.update(dict(outcome.value))
        summary.update(self.bus.stats())
        summary["stop_failures"] = dict(self.stop_failures)
        summary["lost_records"] = self.ctx.lost_records()
        summary["kill_switch"] = self.ctx.kill_switch.summary()
        summary.update(account_summary(self.ctx, self.account))
        hooks = self.ctx.hooks
        summary["loop"] = self.watchdog.stats()
        summary["ticks"] = {
            "stale_dropped": hooks.stale_ticks,
            "oldest_dropped_s": round(hooks.oldest_stale_tick_ms / 1000, 3),
            "max_tick_age_s": self.settings.runtime.max_tick_age,
        }
        return summary


def account_summary(ctx: BotContext, cache: AccountCache) -> dict[str, Any]:
    """The core's sections: final cache, fills, realized PnL, orders, strategy instances."""
    strategies = ctx.strategy_stats()
    placed: dict[str, int] = {}
    for entry in strategies.values():
        for key, value in entry["orders"].items():
            placed[key] = placed.get(key, 0) + value
    positions: dict[str, Any] = {}
    for (symbol, side), position in sorted(cache.positions_view.items()):
        key = symbol if side == "BOTH" else f"{symbol}:{side}"
        positions[key] = {"amount": str(position.amount), "entry_price": str(position.entry_price)}
    pnl = cache.realized_pnl
    return {
        "cache": {
            "balances": {
                asset: str(b.wallet_balance) for asset, b in sorted(cache.balances_view.items())
            },
            "positions": positions,
            "open_orders": len(cache.open_orders_view),
        },
        "fills": cache.stats.fills,
        "realized_pnl": {
            "total": str(sum(pnl.values(), Decimal(0))),
            "by_symbol": {symbol: str(value) for symbol, value in sorted(pnl.items())},
            "fees": {asset: str(value) for asset, value in sorted(cache.fees.items())},
        },
        "orders": {
            "placed": placed.get("placed", 0),
            "refused": placed.get("refused", 0),
            "canceled_by_strategies": placed.get("canceled", 0),
            "filled": cache.stats.orders_filled,
            "canceled": cache.stats.orders_canceled,
            "expired": cache.stats.orders_expired,
            "open": len(cache.open_orders_view),
        },
        "strategies": strategies,
        "recovery": {
            "state_persistent": ctx.state_store_used,
            "orders": dict(ctx.intents.stats),
            "attribution": ctx.last_attribution.as_dict(),
        },
        "account_cache": {
            "applied": cache.stats.applied,
            "stale_ignored": cache.stats.stale_ignored,
            "duplicates": cache.stats.duplicates,
            "duplicate_fills": cache.stats.duplicate_fills,
        },
    }


async def _bounded(what: str, work: Awaitable[Any], budget: float) -> BaseException | None:
    """Run ``work`` for at most ``budget`` seconds; its error, or ``PluginOverrun`` if it was
    cut off. A cut-off task gets ``STOP_GRACE`` to finish its cancellation, else it is left
    behind (logged). A cancellation of the caller cancels ``work`` and is re-raised."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait({task}, timeout=max(0.0, budget))
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_GRACE)
        raise
    if task.done():
        if task.cancelled():
            return RuntimeError(f"{what} ended cancelled while stopping")
        return task.exception()
    task.cancel()
    await asyncio.wait({task}, timeout=STOP_GRACE)
    if not task.done():
        logger.error("shutdown: {} ignored its cancellation; left behind", what)
    elif not task.cancelled():
        task.exception()  # retrieved, so asyncio does not warn about it
    return PluginOverrun(f"did not stop within its share of the shutdown ({budget:.2f} s)")


async def _logged(what: str, work: Awaitable[Any], budget: float) -> None:
    error = await _bounded(what, work, budget)
    if error is not None:
        logger.opt(exception=error).error("shutdown: stopping {} failed: {!r}", what, error)


def _trade_cursors(answer: object) -> TradeCursors | None:
    """A ``last_trade_ids`` answer as ``TradeCursors`` (a plain mapping: cursors alone)."""
    if isinstance(answer, TradeCursors):
        return answer
    if isinstance(answer, Mapping):
        return TradeCursors(
            cursors={s: t for s, t in answer.items() if isinstance(s, str) and isinstance(t, int)}
        )
    return None


def _held_by_all(
    answers: list[TradeCursors], cursors: Mapping[str, int]
) -> list[tuple[str, int, int, Decimal]]:
    """Trades after the seeded cursor that every answer holds (within its cursor or in its
    ``held``): only those are known; the others are read back for whoever lacks them."""
    holds = [{(s, o, t) for s, o, t, _ in a.held} for a in answers]
    out: list[tuple[str, int, int, Decimal]] = []
    seen: set[tuple[str, int, int]] = set()
    for answer in answers:
        for symbol, order_id, trade_id, qty in answer.held:
            key = (symbol, order_id, trade_id)
            cursor = cursors.get(symbol)
            if key in seen or (cursor is not None and trade_id <= cursor):
                continue
            seen.add(key)
            if all(
                key in hold or trade_id <= other.cursors.get(symbol, -1)
                for other, hold in zip(answers, holds, strict=True)
            ):
                out.append((symbol, order_id, trade_id, qty))
    return out


def _start_error(plugin: str, hook: str, exc: BaseException | None) -> PluginStartError:
    """The start failure; a ``TradeloopError`` cause (a damaged data file: exit 2) keeps its
    exit code."""
    cause = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
    error = PluginStartError(f"plugin {plugin!r} failed to start ({hook}): {cause}")
    if isinstance(exc, TradeloopError):
        error.exit_code = exc.exit_code
    return error


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def _install_signal_handlers(
    loop: asyncio.AbstractEventLoop, request_stop: Callable[[str], None]
) -> list[signal.Signals]:
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, request_stop, f"signal {sig.name}")
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread, or a platform without signal support
        installed.append(sig)
    return installed


def write_summary(summary: dict[str, Any], path: Path) -> None:
    """Write the run summary as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str)
    path.write_bytes(data + b"\n")


def new_event_loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop factory, or asyncio's (with a warning) when uvloop is missing."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            logger.warning("uvloop is not installed; running on the asyncio event loop")
        else:
            factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
            return factory
    return asyncio.new_event_loop


def run_async(main: Awaitable[T] | Coroutine[Any, Any, T], *, use_uvloop: bool = True) -> T:
    """Run a coroutine to completion on a fresh (uv)loop."""
    with asyncio.Runner(loop_factory=new_event_loop_factory(use_uvloop)) as runner:
        return runner.run(main)  # type: ignore[arg-type]
