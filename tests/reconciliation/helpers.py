"""Helpers for reconciliation against the simulator: drive runs on the manual clock, compare
the cache with the simulator's truth, and a test plugin that trades through ``ctx.exchange``.

The simulator and the bot share one ``ManualClock``: event times, the snapshot time, the
scheduler, ``confirm_delay`` and the retry backoff all follow the test (with the real clock for
both, the same helpers wait for real time instead). Nothing asserts on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any

from framework import BotContext, ManualClock, hookimpl
from framework.cache import AccountView
from framework.clock import Clock
from framework.runtime import Bot
from framework.types import Fill, OrderRequest, ReconcileResult, StreamState, StreamStatus, Tick
from plugins.reconciliation import ReconciliationPlugin, ReconciliationSettings
from plugins.sim import SimExchange
from plugins.sim.testing import until

QTY = {
    "BTCUSDT": (Decimal("0.002"), Decimal("0.004")),
    "ETHUSDT": (Decimal("0.01"), Decimal("0.03")),
}
MAX_POSITION = {"BTCUSDT": Decimal("0.02"), "ETHUSDT": Decimal("0.2")}


def recon(**overrides: Any) -> ReconciliationPlugin:
    """The plugin with test settings: no periodic run unless the test advances an hour, and
    no silent-stream probe (these tests jump the clock by hours with a quiet stream and lost
    events, which the probe would rightly take for silence; it has its own tests)."""
    values: dict[str, Any] = {
        "interval": 3600.0,
        "retry_base": 1.0,
        "retry_cap": 4.0,
        "silent_stream_after": 0.0,
    }
    values.update(overrides)
    return ReconciliationPlugin(ReconciliationSettings(**values))


async def drive(
    plugin: ReconciliationPlugin,
    clock: ManualClock,
    done: Callable[[], bool],
    *,
    before_confirm: Callable[[], Awaitable[None]] | None = None,
    within: float = 30.0,
) -> None:
    """Until ``done()``: whenever a run waits out ``confirm_delay`` or a retry backoff, move
    the clock past it."""
    async with asyncio.timeout(within):
        while not done():
            if plugin.phase == "confirming":
                if before_confirm is not None:
                    await before_confirm()
                await clock.advance(plugin.config.confirm_delay)
            elif plugin.phase == "backoff":
                await clock.advance(plugin.config.retry_cap)
            await asyncio.sleep(0.002)


async def exchange_time_passes(sim: SimExchange, clock: Clock, seconds: float = 1.0) -> None:
    """Until the exchange's clock is past every event so far (a later snapshot sees them)."""
    mark = sim.server_ms()
    if isinstance(clock, ManualClock) and sim.clock == clock.time:
        await clock.advance(seconds)
    await until(lambda: sim.server_ms() > mark)


async def reconcile(
    bot: Bot,
    plugin: ReconciliationPlugin,
    clock: ManualClock,
    sim: SimExchange,
    *,
    before_confirm: Callable[[], Awaitable[None]] | None = None,
) -> ReconcileResult:
    """Let the exchange's clock pass every event so far, then reconcile: the result of a run
    that started after that (``reconcile_now`` is served by a run that starts after the call;
    a run already under way, say a resync, cannot answer it)."""
    await drive(plugin, clock, lambda: not plugin.busy)
    await exchange_time_passes(sim, clock)
    mark = sim.server_ms()
    run = asyncio.ensure_future(plugin.reconcile_now("test"))
    await drive(plugin, clock, run.done, before_confirm=before_confirm)
    result = run.result()
    assert result.status == "error" or result.snapshot_time >= mark
    return result


def differences(cache: AccountView, sim: SimExchange) -> list[str]:
    """Every way the cache differs from the simulator's truth ([] when equal)."""
    truth = sim.truth()
    out: list[str] = []
    for asset, b in truth.balances.items():
        held = cache.balances.get(asset)
        if held is None or held.wallet_balance != b.wallet_balance:
            out.append(
                f"balance {asset}: cache {held and held.wallet_balance} != {b.wallet_balance}"
            )
    for asset, held in cache.balances.items():
        if asset not in truth.balances and held.wallet_balance:
            out.append(f"balance {asset}: cache {held.wallet_balance}, none on the exchange")
    for symbol, p in truth.positions.items():
        held_p = cache.position(symbol)
        amount = held_p.amount if held_p is not None else Decimal(0)
        if amount != p.amount:
            out.append(f"position {symbol}: cache {amount} != {p.amount}")
        elif held_p is not None and held_p.entry_price != p.entry_price:
            out.append(f"position {symbol} entry: {held_p.entry_price} != {p.entry_price}")
    for symbol, _ in cache.positions:
        if symbol not in truth.positions:
            out.append(f"position {symbol}: cache has one, the exchange does not list it")
    want = {(o.symbol, o.order_id): o for o in truth.open_orders}
    have = dict(cache.open_orders)
    for key in sorted(set(want) | set(have)):
        w, h = want.get(key), have.get(key)
        if w is None or h is None:
            out.append(f"order {key}: cache {h and h.status}, exchange {w and w.status}")
        elif (h.status, h.executed_qty, h.orig_qty, h.price) != (
            w.status,
            w.executed_qty,
            w.orig_qty,
            w.price,
        ):
            out.append(
                f"order {key}: cache {h.status} {h.executed_qty} != {w.status} {w.executed_qty}"
            )
    return out


class Probe:
    """A strategy-like plugin (register it as ``strategy:probe``): what it saw, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.results: list[ReconcileResult] = []

    @hookimpl
    def on_tick(self, tick: Tick) -> None:
        self.events.append("tick")

    @hookimpl
    def on_reconcile_result(self, result: ReconcileResult) -> None:
        self.events.append(f"reconcile {result.status}")
        self.results.append(result)

    @property
    def ticks(self) -> int:
        return self.events.count("tick")


class StreamLog:
    """Records ``on_stream_state``; ``on_user_down`` runs when the user-data stream drops."""

    def __init__(self, on_user_down: Callable[[], None] | None = None) -> None:
        self.statuses: list[StreamStatus] = []
        self.on_user_down = on_user_down
        self.held: list[str] = []  # why strategies were held, at each resync request
        self.held_while_down: list[str] = []  # why strategies were held, at each user drop

    @hookimpl
    def on_stream_state(self, ctx: BotContext, status: StreamStatus) -> None:
        self.statuses.append(status)
        if status.needs_resync and status.stream == "user_data":
            self.held.append(ctx.trading_held)
        if status.stream == "user_data" and status.state is StreamState.DISCONNECTED:
            self.held_while_down.append(ctx.trading_held)
            callback, self.on_user_down = self.on_user_down, None
            if callback is not None:
                callback()


class Trader:
    """Trades through ``ctx.exchange``: market orders, resting limit orders and cancels.

    Not a strategy (it is never held): reconciliation must cope with trading at any moment.
    Prices come from the simulator's book; positions stay within ``MAX_POSITION``.
    """

    def __init__(
        self, sim: SimExchange, seed: int, symbols: tuple[str, ...] = ("BTCUSDT",)
    ) -> None:
        self.sim = sim
        self.rng = random.Random(seed)
        self.symbols = symbols
        self.ctx: BotContext | None = None
        self.counts: Counter[str] = Counter()

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        self.ctx = ctx
        yield

    async def step(self) -> None:
        """One random action; exchange refusals are counted, not raised."""
        assert self.ctx is not None
        exchange = self.ctx.exchange
        symbol = self.rng.choice(self.symbols)
        roll = self.rng.random()
        try:
            if roll < 0.25:
                mine = [o for o in self.ctx.cache.open_orders.values() if o.symbol == symbol]
                if mine:
                    victim = self.rng.choice(mine)
                    await exchange.cancel_order(symbol, victim.client_order_id)
                    self.counts["canceled"] += 1
                    return
            request = self._request(symbol, market=roll < 0.6)
            await exchange.place_order(request)
            self.counts["market" if request.type == "MARKET" else "limit"] += 1
        except Exception as exc:
            self.counts[f"refused {type(exc).__name__}"] += 1

    def _request(self, symbol: str, *, market: bool) -> OrderRequest:
        low, high = QTY[symbol]
        spec = self.sim.engine.specs[symbol]
        qty = low + (high - low) * Decimal(self.rng.randint(0, 4)) / 4
        qty = (qty / spec.step_size).to_integral_value() * spec.step_size
        held = self.sim.engine.positions[symbol].amount
        side = self.rng.choice(("BUY", "SELL"))
        reduce = abs(held) > MAX_POSITION[symbol]
        if reduce:
            side = "SELL" if held > 0 else "BUY"
        if market:
            return OrderRequest(symbol=symbol, side=side, type="MARKET", quantity=qty)  # type: ignore[arg-type]
        quote = self.sim.engine.quote(symbol)
        ticks = spec.tick_size * self.rng.randint(0, 5)
        price = quote.bid - ticks if side == "BUY" else quote.ask + ticks
        return OrderRequest(
            symbol=symbol,
            side=side,  # type: ignore[arg-type]
            type="LIMIT",
            quantity=qty,
            price=price,
        )

    async def run(self, stop: asyncio.Event, pause: float = 0.003) -> None:
        """Trade until ``stop`` is set."""
        while not stop.is_set():
            await self.step()
            await asyncio.sleep(self.rng.uniform(0, pause))


FillKey = tuple[str, int, int]
FillFigures = tuple[Decimal, Decimal, Decimal, str, Decimal]  # qty, price, fee, asset, pnl


class FillRecorder:
    """Every ``on_fill`` the plugins were sent (what the journal records)."""

    def __init__(self) -> None:
        self.fills: list[Fill] = []

    @hookimpl
    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def recorded(self) -> dict[FillKey, FillFigures]:
        """By (symbol, order id, trade id): quantity, price, fee, fee asset, realized PnL."""
        return {
            (f.symbol, f.order_id, f.trade_id): (f.qty, f.price, f.fee, f.fee_asset, f.realized_pnl)
            for f in self.fills
        }

    def duplicates(self) -> list[FillKey]:
        """Trades sent more than once."""
        seen = Counter((f.symbol, f.order_id, f.trade_id) for f in self.fills)
        return sorted(key for key, n in seen.items() if n > 1)


def exchange_trades(sim: SimExchange) -> dict[FillKey, FillFigures]:
    """The simulator's trades of the account, keyed and valued like ``FillRecorder.recorded``."""
    return {
        (t.symbol, t.order_id, t.trade_id): (t.qty, t.price, t.commission, "USDT", t.realized_pnl)
        for t in sim.engine.trades
    }


def totals(cache: AccountView) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """The cache's realized PnL per symbol and fees per asset."""
    return dict(cache.realized_pnl), dict(cache.fees)


def trade_totals(sim: SimExchange) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """The same sums over the simulator's trades."""
    pnl: dict[str, Decimal] = {}
    fees: dict[str, Decimal] = {}
    for t in sim.engine.trades:
        pnl[t.symbol] = pnl.get(t.symbol, Decimal(0)) + t.realized_pnl
        fees["USDT"] = fees.get("USDT", Decimal(0)) + t.commission
    return pnl, fees
