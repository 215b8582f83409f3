"""Strategies used by the strategy API tests (loaded by module path, like a user's own)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from decimal import Decimal

import msgspec

from framework import BotContext, Candle, Order, OrderRequest, ShuttingDown, Tick, hookimpl
from framework.settings import RiskLimits
from framework.strategy import Strategy


class RecorderParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    symbol: str = "BTCUSDT"
    fail_on_tick: bool = False


class Recorder(Strategy):
    """Records what it is told; raises on its first tick when ``fail_on_tick``."""

    Params = RecorderParams
    risk = RiskLimits(max_order_notional=Decimal("1000"), max_open_orders=5)

    def __init__(self, params: RecorderParams) -> None:
        super().__init__(params)
        self.events: list[str] = []
        self.ticks: list[Tick] = []

    @hookimpl
    def on_tick(self, ctx: BotContext, tick: Tick) -> None:
        if self.params.fail_on_tick:
            raise RuntimeError("bug in on_tick")
        self.ticks.append(tick)
        self.events.append(f"tick {tick.update_id}")

    @hookimpl
    def on_order_update(self, ctx: BotContext, before: Order | None, after: Order) -> None:
        self.events.append(f"order {after.order_id} {after.status}")


class Pairs(Strategy):
    """Trades a fixed set of symbols, declared as a class attribute (no params)."""

    symbols = ("solusdt", "BTCUSDT")


class HistoryReader(Strategy):
    """Reads 1m history of BTCUSDT in ``warm_up`` and notes whether a tick came before it."""

    symbols = ("BTCUSDT",)

    def __init__(self, params: object = None) -> None:
        super().__init__(params)
        self.candles: list[Candle] = []
        self.ticks_before_warm_up = -1
        self.ticks = 0

    @hookimpl
    async def warm_up(self, ctx: BotContext) -> None:
        self.ticks_before_warm_up = self.ticks
        self.candles = await self.history(ctx, "BTCUSDT", "1m", 200)

    @hookimpl
    def on_tick(self, ctx: BotContext, tick: Tick) -> None:
        self.ticks += 1


class StopTrader(Strategy):
    """At stop, tries a new order, a cancel of ``resting`` and a reduce-only close of
    ``position`` (set by the test), and notes how each ended."""

    symbols = ("BTCUSDT",)

    def __init__(self, params: object = None) -> None:
        super().__init__(params)
        self.new_order: OrderRequest | None = None
        self.resting = ""
        self.close: OrderRequest | None = None
        self.at_stop: list[str] = []

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        yield
        api = self.orders(ctx)
        assert self.new_order is not None
        assert self.close is not None
        try:
            await api.place(self.new_order)
            self.at_stop.append("placed")
        except ShuttingDown as exc:
            self.at_stop.append(f"refused: {exc}")
        self.at_stop.append((await api.cancel("BTCUSDT", self.resting)).status)
        self.at_stop.append((await api.place(self.close)).status)
