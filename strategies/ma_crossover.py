"""Moving-average crossover on the mid price of one symbol, traded with market orders.

Every ``interval`` seconds (exchange time, from the ticks themselves) the strategy samples the
mid price. Once it has ``slow`` samples it compares the mean of the last ``fast`` samples with
the mean of the last ``slow``:

* fast above slow: the target position is ``+quantity`` (long);
* fast below slow: ``-quantity`` (short) in mode ``long_short`` (the default), ``0`` (flat) in
  mode ``long_flat``;
* equal: no opinion, the position stays as it is.

When the account's position (read from ``ctx.cache``) differs from the target, it sends one
market order for the difference. A reversal from long to short is therefore one order of
``2 * quantity``. The strategy assumes it is the only one trading its symbol on the account.

Things worth copying:

* ``on_tick`` only computes and decides; the order is placed by a task (``self.spawn``), because
  hooks have short time budgets (``on_tick``: 50 ms) and talking to the exchange takes longer.
* One order in flight at a time. An order stays "in flight" until the exchange reports it closed
  (``on_order_update``) **and** the cache's position shows its fill: a market order's position
  update may arrive after the order update, and deciding on a stale position would double it.
* An order the core refuses (``OrderRefused``: strategies held while the account is being
  checked, a risk limit) and an order the exchange rejects are logged and skipped; the next
  sample tries again. Anything else is a bug: it pauses this instance (see docs/strategies.md).
* Without an exchange connector (``ctx.has_exchange`` false) it only samples prices.
* It warms up from history (``warm_up``): before the first tick it fills its window with the
  closes of the last ``slow`` closed candles of interval ``warm_up`` (``"1m"``), read through
  the connector (``self.history``), so it decides on the first tick instead of after ``slow``
  samples. The window then mixes those closes with its own samples until they have replaced
  them; ``interval: 60`` makes the two alike. ``warm_up: ""`` starts cold.

Settings (``strategies:`` in settings.yaml)::

    - id: ma_btc
      use: ma_crossover
      params: {symbol: BTCUSDT, fast: 5, slow: 15, interval: 1.0, quantity: "0.002", warm_up: 1m}
      risk: {max_position: "0.004", max_order_notional: "1000"}
"""

from __future__ import annotations

from collections import Counter, deque
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from loguru import logger

from framework import (
    CANDLE_INTERVALS,
    BotContext,
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


class MACrossoverParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``strategies[].params`` of ``ma_crossover``."""

    symbol: Symbol = "BTCUSDT"
    fast: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 5  # samples in the fast mean
    slow: Annotated[int, msgspec.Meta(ge=2, le=5000)] = 15  # samples in the slow mean, > fast
    quantity: PositiveAmount = Decimal("0.002")  # base units (BTC), rounded down to the step
    interval: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 1.0  # s between samples; 0: all
    mode: Literal["long_short", "long_flat"] = "long_short"
    order_timeout: Annotated[float, msgspec.Meta(gt=0, le=600)] = 10.0  # s before asking
    warm_up: str = "1m"  # candle interval whose closes fill the window at start; "": from ticks

    def __post_init__(self) -> None:
        if self.slow <= self.fast:
            raise ValueError(f"slow ({self.slow}) must be greater than fast ({self.fast})")
        if not self.quantity > 0:
            raise ValueError(f"quantity ({self.quantity}) must be greater than 0")
        if self.warm_up and self.warm_up not in CANDLE_INTERVALS:
            raise ValueError(
                f"warm_up ({self.warm_up!r}) must be empty or one of {', '.join(CANDLE_INTERVALS)}"
            )


class _InFlight:
    """The one order on its way: what was asked, and the position it started from."""

    def __init__(self, request: OrderRequest, position_before: Decimal, sent_ms: int) -> None:
        self.request = request
        self.position_before = position_before
        self.sent_ms = sent_ms
        self.client_order_id = ""  # known once the exchange acknowledged the order
        self.checking = False  # a query about a late order is under way


class MACrossover(Strategy):
    """Long when the fast mean is above the slow mean; short (or flat) when below."""

    Params = MACrossoverParams
    # Defaults the core enforces before any order leaves; ``strategies[].risk`` overrides them.
    risk = RiskLimits(
        max_position=Decimal("0.01"), max_order_notional=Decimal("2000"), max_open_orders=2
    )
    params: MACrossoverParams

    def __init__(self, params: MACrossoverParams) -> None:
        super().__init__(params)
        self.prices: deque[Decimal] = deque(maxlen=params.slow)
        self.next_sample_ms = 0
        self.now_ms = 0  # event time of the last tick of our symbol: the strategy's clock
        self.signal = 0  # +1: fast above slow, -1: below, 0: not known yet
        self.in_flight: _InFlight | None = None
        self.finished: deque[str] = deque(maxlen=16)  # client order ids of our closed orders
        self.expected: Decimal | None = None  # the position the last order should leave
        self.settle_by_ms = 0  # after this, trust the cache even if it disagrees
        self.stats: Counter[str] = Counter()

    # ------------------------------------------------------------------------- hooks

    @hookimpl
    async def warm_up(self, ctx: BotContext) -> None:
        """Fill the window with the closes of the last ``slow`` closed candles, before the
        first tick; on an exchange error start cold (the ticks fill it instead)."""
        p = self.params
        if not p.warm_up or not ctx.has_exchange:
            return
        try:
            candles = await self.history(ctx, p.symbol, p.warm_up, p.slow + 1)
        except TradeloopError as exc:
            self._log().warning(
                "no {} history for {} ({}): warming up from ticks", p.warm_up, p.symbol, exc
            )
            return
        closes = [c.close for c in candles if c.closed][-p.slow :]
        self.prices.extend(closes)
        self.stats["warm_up_candles"] = len(closes)
        self._log().info(
            "{} warmed up from {} {} candles ({} of {} samples)",
            p.symbol,
            len(closes),
            p.warm_up,
            len(self.prices),
            p.slow,
        )

    @hookimpl
    def on_tick(self, ctx: BotContext, tick: Tick) -> None:
        """Sample the mid, update the signal, and trade towards the target position."""
        p = self.params
        if tick.symbol != p.symbol:
            return
        self.now_ms = tick.event_time
        if tick.event_time < self.next_sample_ms:
            return
        self.next_sample_ms = tick.event_time + int(p.interval * 1000)
        self.prices.append(tick.mid)
        self.stats["samples"] += 1
        if len(self.prices) < p.slow:
            return  # warming up
        fast = sum(islice(reversed(self.prices), p.fast), Decimal(0)) / p.fast
        slow = sum(self.prices, Decimal(0)) / p.slow
        signal = 1 if fast > slow else -1 if fast < slow else self.signal
        if signal != self.signal:
            self.stats["crossovers"] += 1
            self._log().info(
                "{} fast {:.2f} {} slow {:.2f}: {}",
                p.symbol,
                fast,
                ">" if signal > 0 else "<",
                slow,
                "go long" if signal > 0 else "go short" if p.mode == "long_short" else "go flat",
            )
        self.signal = signal
        if ctx.has_exchange:
            self._rebalance(ctx, tick.event_time)

    @hookimpl
    def on_order_update(self, ctx: BotContext, after: Order) -> None:
        """The order in flight closed: remember which position it should leave."""
        flight = self.in_flight
        if flight is None or after.is_open or after.symbol != self.params.symbol:
            return
        if flight.client_order_id:
            if after.client_order_id != flight.client_order_id:
                return
        elif (
            ctx.exchange.owner_of(after.client_order_id) != self.strategy_id
            or after.client_order_id in self.finished
        ):
            return  # (an update can beat the REST answer: then the closed order of ours is it)
        self._finish(flight, after)

    # ----------------------------------------------------------------------- trading

    def _target(self) -> Decimal:
        quantity = self.params.quantity
        if self.signal > 0:
            return quantity
        return -quantity if self.params.mode == "long_short" else Decimal(0)

    def _position(self, ctx: BotContext) -> Decimal:
        position = ctx.cache.position(self.params.symbol)
        return position.amount if position is not None else Decimal(0)

    def _rebalance(self, ctx: BotContext, now_ms: int) -> None:
        """Send one market order towards the target, unless one is still on its way."""
        if self.signal == 0:
            return
        flight = self.in_flight
        if flight is not None:
            late = now_ms - flight.sent_ms > self.params.order_timeout * 1000
            if late and flight.client_order_id and not flight.checking:
                flight.checking = True
                self.spawn(ctx, self._check(ctx, flight), name="check-order")
            return
        position = self._position(ctx)
        if self.expected is not None:
            if position != self.expected and now_ms < self.settle_by_ms:
                return  # the fill is known; the cache's position update is still on its way
            self.expected = None
        delta = self._target() - position
        quantity = abs(delta)
        rules = ctx.rules(self.params.symbol)
        if rules is not None:  # the exchange's MARKET_LOT_SIZE step (down: never overshoot)
            quantity = rules.round_quantity(quantity, market=True)
        if quantity == 0:
            return
        request = OrderRequest(
            symbol=self.params.symbol,
            side="BUY" if delta > 0 else "SELL",
            type="MARKET",
            quantity=quantity,
            reduce_only=self._target() == 0,  # long_flat closing: never opens a short
        )
        flight = _InFlight(request, position, now_ms)
        self.in_flight = flight
        self.spawn(ctx, self._send(ctx, flight), name="order")

    async def _send(self, ctx: BotContext, flight: _InFlight) -> None:
        """Place the order (a task: it may take longer than a hook's budget)."""
        request = flight.request
        try:
            order = await self.orders(ctx).place(request)
        except OrderRefused as exc:  # held, paused, a filter or a risk limit: it never left
            self._skip(flight, f"refused: {exc}", level="INFO")  # the core logged a warning
            return
        except TradeloopError as exc:  # the exchange said no, or could not be reached
            self._skip(flight, f"failed: {exc}", level="WARNING")
            return
        self.stats["orders"] += 1
        flight.client_order_id = order.client_order_id
        self._log().info(
            "{} {} {} at market: {}", request.side, request.quantity, request.symbol, order.status
        )
        if not order.is_open and self.in_flight is flight:  # the answer already says it closed
            self._finish(flight, order)

    async def _check(self, ctx: BotContext, flight: _InFlight) -> None:
        """The order's closing update is late: ask the exchange how it ended."""
        try:
            order = await self.orders(ctx).query(flight.request.symbol, flight.client_order_id)
        except TradeloopError as exc:
            self._log().warning("could not query order {}: {}", flight.client_order_id, exc)
            flight.checking = False
            return
        if self.in_flight is not flight:
            return
        if order is None or not order.is_open:
            self._log().warning("order {} closed without an update", flight.client_order_id)
            self._finish(flight, order)
        else:
            flight.sent_ms += int(self.params.order_timeout * 1000)  # ask again later
            flight.checking = False

    def _finish(self, flight: _InFlight, order: Order | None) -> None:
        """The order closed: wait for the position it leaves (at most ``order_timeout``)."""
        executed = order.executed_qty if order is not None else Decimal(0)
        if order is not None:
            self.finished.append(order.client_order_id)  # its late updates are not the next's
        signed = executed if flight.request.side == "BUY" else -executed
        self.expected = flight.position_before + signed
        self.settle_by_ms = self.now_ms + int(self.params.order_timeout * 1000)
        self.in_flight = None

    def _skip(self, flight: _InFlight, why: str, *, level: str) -> None:
        self.stats["skipped"] += 1
        self._log().log(
            level,
            "{} {} {} skipped ({}); the next sample tries again",
            flight.request.side,
            flight.request.quantity,
            flight.request.symbol,
            why,
        )
        if self.in_flight is flight:
            self.in_flight = None

    def _log(self) -> Logger:
        return logger.bind(plugin=f"strategy:{self.strategy_id}")

    @hookimpl
    def summarize_run(self) -> dict[str, Any]:
        """This instance's counters, under ``strategy:<id>`` in the run summary."""
        return {f"strategy:{self.strategy_id}": {**self.stats, "signal": self.signal}}
