"""A grid: a ladder of limit orders around the mid price, re-centred on a schedule.

On the first tick the strategy rounds the mid to a multiple of ``step`` (the centre) and places
``levels`` limit buys below it (centre - step, centre - 2 step, ...) and ``levels`` limit sells
above it, each for ``quantity``. Then:

* a buy that fills at price P is replaced by a sell at P + step, a sell that fills at P by a buy
  at P - step (``on_order_update``, status ``FILLED``): each round trip earns about one step;
* every ``recenter_every`` seconds a scheduled job (``register_jobs``) checks the mid: when it
  is ``recenter_after`` steps or more away from the centre (or no order of the grid is left:
  all refused, say), the grid cancels its orders and places a new ladder around the mid;
* on stop (the end of its ``lifespan``) it cancels its orders.

Every price is a multiple of ``step``, placed with ``round_to_rules=True``: a price off the
symbol's tick (BTCUSDT: 0.10) is rounded toward the passive side (a buy down, a sell up) and the
quantity down to the step; a level that still breaks a filter (below the minimum notional, say)
is refused (``FilterRefused`` naming the filter), logged and skipped.

Inventory builds up in a trend; the risk limits (``max_position`` counts open orders on the same
side as if they filled) stop the grid from adding to it: those orders are refused, logged and
skipped, and the other side keeps working.

Settings (``strategies:`` in settings.yaml)::

    - id: grid_btc
      use: grid
      params: {symbol: BTCUSDT, levels: 3, step: "25", quantity: "0.002", recenter_every: 30}
      risk: {max_position: "0.012", max_open_orders: 8}
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from loguru import logger

from framework import (
    BotContext,
    Fill,
    IntervalJob,
    Job,
    Order,
    OrderRefused,
    OrderRequest,
    RiskLimits,
    Strategy,
    Tick,
    TradeloopError,
    hookimpl,
)
from framework.setting_types import PositiveAmount

if TYPE_CHECKING:
    from loguru import Logger

Symbol = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{2,30}$")]
Side = Literal["BUY", "SELL"]

# Cancelling at stop must fit in the shutdown budget (runtime.shutdown_timeout, 5 s by default).
STOP_BUDGET = 3.0


class GridParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``strategies[].params`` of ``grid``."""

    symbol: Symbol = "BTCUSDT"
    levels: Annotated[int, msgspec.Meta(ge=1, le=50)] = 3  # orders on each side
    step: PositiveAmount = Decimal("25")  # between levels (prices are rounded to the tick)
    quantity: PositiveAmount = Decimal("0.002")  # base units per order
    recenter_every: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 30.0  # seconds
    recenter_after: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 2  # steps away from the centre

    def __post_init__(self) -> None:
        if not self.step > 0:
            raise ValueError(f"step ({self.step}) must be greater than 0")
        if not self.quantity > 0:
            raise ValueError(f"quantity ({self.quantity}) must be greater than 0")


class Grid(Strategy):
    """Limit buys below and sells above the mid; a filled level is replaced on the other side."""

    Params = GridParams
    # Defaults the core enforces before any order leaves; ``strategies[].risk`` overrides them.
    risk = RiskLimits(
        max_position=Decimal("0.02"), max_order_notional=Decimal("1000"), max_open_orders=12
    )
    params: GridParams

    def __init__(self, params: GridParams) -> None:
        super().__init__(params)
        self.center: Decimal | None = None
        self.generation = 0  # +1 per ladder; fills of an older ladder are not replaced
        self.generation_of: dict[str, int] = {}  # client order id -> its ladder, until closed
        self.lock = asyncio.Lock()  # one ladder change at a time
        self.building = False
        self.stats: Counter[str] = Counter()

    # ---------------------------------------------------------------------- lifecycle

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Nothing to start; cancel the grid's orders on stop."""
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        yield
        # By now the scheduler and every spawned task were stopped, and the connector's streams
        # too: its REST session stays open until its own stop (after ours), so cancel over REST
        # and trust the answers, not the cache. Bounded: it is part of the shutdown budget.
        if not ctx.has_exchange:
            return
        try:
            async with asyncio.timeout(STOP_BUDGET):
                await self._cancel_all(ctx, ask_exchange=True)
        except TimeoutError:
            self._log().error("could not cancel every order within {} s at stop", STOP_BUDGET)

    @hookimpl
    def register_jobs(self, ctx: BotContext) -> list[Job]:
        """The re-centring job (none without an exchange: the grid then stays idle)."""
        if not ctx.has_exchange:
            self._log().info("no exchange connector: the grid stays idle")
            return []
        return [IntervalJob(name="recenter", every=self.params.recenter_every, func=self._job(ctx))]

    # ------------------------------------------------------------------------- hooks

    @hookimpl
    def on_tick(self, ctx: BotContext, tick: Tick) -> None:
        """The first tick builds the ladder (later ones are the job's business)."""
        if tick.symbol != self.params.symbol or self.center is not None or self.building:
            return
        if ctx.has_exchange:
            self.building = True
            self.spawn(ctx, self._rebuild(ctx, "start"), name="build")

    @hookimpl
    def on_order_update(self, ctx: BotContext, after: Order) -> None:
        """A level filled: place its counterpart one step back towards the centre."""
        if after.symbol != self.params.symbol or after.is_open or not ctx.has_exchange:
            return
        generation = self.generation_of.pop(after.client_order_id, None)
        if after.status != "FILLED":
            return
        if generation is None:  # its REST answer is not back yet, or not one of ours
            if ctx.exchange.owner_of(after.client_order_id) != self.strategy_id:
                return
            generation = self.generation
        if generation == self.generation:
            self.spawn(ctx, self._replace(ctx, after, generation), name="replace")

    @hookimpl
    def on_fill(self, ctx: BotContext, fill: Fill) -> None:
        """Log our fills (the replacement happens on the order's FILLED update)."""
        if fill.symbol != self.params.symbol or not ctx.has_exchange:
            return
        if ctx.exchange.owner_of(fill.client_order_id) != self.strategy_id:
            return
        self.stats["fills"] += 1
        self._log().info(
            "{} {} {} @ {} filled (fee {} {})",
            fill.side,
            fill.qty,
            fill.symbol,
            fill.price,
            fill.fee,
            fill.fee_asset,
        )

    # ----------------------------------------------------------------------- the grid

    def _job(self, ctx: BotContext) -> Callable[[], Awaitable[None]]:
        """The scheduled re-centring: when the mid moved away, or no order of ours is left."""

        async def recenter() -> None:
            if not self._may_trade(ctx):
                return
            symbol, step = self.params.symbol, self.params.step
            tick = ctx.last_ticks.get(symbol)
            if tick is None or self.center is None:
                return
            near = abs(tick.mid - self.center) < self.params.recenter_after * step
            if near and self.orders(ctx).open_orders(symbol):
                return
            # As a task of this instance, so that a bug pauses it like one in a hook would;
            # the job waits for it, so two re-centrings never overlap.
            task = self.spawn(ctx, self._rebuild(ctx, "recenter"), name="recenter")
            await asyncio.wait([task])

        return recenter

    def _may_trade(self, ctx: BotContext) -> bool:
        """An exchange, no hold (startup, resync), not paused: jobs run regardless of those."""
        held = ctx.trading_held or ctx.strategy_paused(self.strategy_id)
        return ctx.has_exchange and not held

    async def _rebuild(self, ctx: BotContext, reason: str) -> None:
        """Cancel the ladder and place a new one around the current mid."""
        try:
            async with self.lock:
                tick = ctx.last_ticks.get(self.params.symbol)
                if tick is None:
                    return
                await self._cancel_all(ctx, ask_exchange=False)
                step = self.params.step
                center = (tick.mid / step).quantize(Decimal(1), ROUND_HALF_UP) * step
                self.generation += 1
                self.center = center
                self.stats["ladders"] += 1
                self._log().info(
                    "{} ladder around {} ({}): {} levels, step {}",
                    self.params.symbol,
                    center,
                    reason,
                    self.params.levels,
                    step,
                )
                for i in range(1, self.params.levels + 1):
                    await self._place(ctx, "BUY", center - i * step, self.generation)
                    await self._place(ctx, "SELL", center + i * step, self.generation)
        finally:
            self.building = False

    async def _replace(self, ctx: BotContext, filled: Order, generation: int) -> None:
        async with self.lock:
            if generation != self.generation:
                return  # the ladder was rebuilt meanwhile
            step = self.params.step
            if filled.side == "BUY":
                placed = await self._place(ctx, "SELL", filled.price + step, generation)
            else:
                placed = await self._place(ctx, "BUY", filled.price - step, generation)
            self.stats["replaced"] += placed

    async def _place(self, ctx: BotContext, side: Side, price: Decimal, gen: int) -> bool:
        """Place one level; False if it was refused or failed (logged, the level stays empty)."""
        request = OrderRequest(
            symbol=self.params.symbol,
            side=side,
            type="LIMIT",
            quantity=self.params.quantity,
            price=price,
        )
        try:
            # Prices and quantity on the exchange's grid: the price rounded to the tick toward
            # the passive side (a buy down, a sell up), the quantity down to the step.
            order = await self.orders(ctx).place(request, round_to_rules=True)
        except OrderRefused as exc:  # held, paused, a filter or a risk limit: it stays empty
            self.stats["skipped"] += 1
            self._log().info("{} {} @ {} skipped: {}", side, request.quantity, price, exc)
            return False
        except TradeloopError as exc:  # the exchange said no, or could not be reached
            self.stats["skipped"] += 1
            self._log().warning("{} {} @ {} failed: {}", side, request.quantity, price, exc)
            return False
        self.stats["placed"] += 1
        if order.is_open:
            self.generation_of[order.client_order_id] = gen
        return True

    async def _cancel_all(self, ctx: BotContext, *, ask_exchange: bool) -> None:
        """Cancel every open order of ours: the current ladder's, the cache's, the exchange's."""
        symbol = self.params.symbol
        api = self.orders(ctx)
        # The current ladder as placed (the cache may not have heard of the newest orders yet).
        ids = dict.fromkeys(c for c, g in self.generation_of.items() if g == self.generation)
        ids.update(dict.fromkeys(o.client_order_id for o in api.open_orders(symbol)))
        if ask_exchange:  # at stop: an order whose placement was interrupted is only there
            try:
                snapshot = await ctx.exchange.fetch_account_snapshot()
            except TradeloopError as exc:
                self._log().warning("could not list open orders at stop: {}", exc)
            else:
                owner_of = ctx.exchange.owner_of
                ids.update(
                    dict.fromkeys(
                        o.client_order_id
                        for o in snapshot.open_orders
                        if o.symbol == symbol and owner_of(o.client_order_id) == self.strategy_id
                    )
                )
        canceled = 0
        for client_order_id in ids:
            try:
                order = await api.cancel(symbol, client_order_id)
            except TradeloopError as exc:  # already gone (filled, or never existed)
                self._log().info("cancel {}: {}", client_order_id, exc)
            else:
                canceled += order.status == "CANCELED"
        self.stats["canceled"] += canceled
        if ids:
            self._log().info("{} canceled {} of {} orders", symbol, canceled, len(ids))

    def _log(self) -> Logger:
        return logger.bind(plugin=f"strategy:{self.strategy_id}")

    @hookimpl
    def summarize_run(self) -> dict[str, Any]:
        """This instance's counters, under ``strategy:<id>`` in the run summary."""
        return {f"strategy:{self.strategy_id}": {**self.stats, "center": str(self.center)}}
