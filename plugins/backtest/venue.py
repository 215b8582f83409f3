"""The in-process venue of a backtest: the simulator's matching engine behind the connector
interface, fed with prices by the backtest loop; its events go to the account cache as the
user-data stream's would."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from framework.cache import AccountCache
from framework.clock import Clock
from framework.errors import TradeloopError
from framework.rules import SymbolRules
from framework.types import (
    AccountSnapshot,
    Balance,
    Candle,
    Fill,
    Order,
    OrderRequest,
    Position,
)
from plugins.sim.engine import (
    MARGIN_ASSET,
    AccountEvent,
    Engine,
    Event,
    OrderEvent,
    OrderType,
    Quote,
    Side,
    TimeInForce,
)
from plugins.sim.engine import Order as EngineOrder
from plugins.sim.errors import BinanceError
from plugins.sim.symbols import SYMBOL_CATALOGUE, SymbolSpec

CLIENT_ID_MAX = 36
KEEP_CLOSED = 1_000
"""Closed orders the venue still answers about (``query_order``, ``owner_of``); older ones are
forgotten, so memory does not grow with the number of orders of a long backtest (the core
asks about an order only while its outcome is unknown, right after sending it)."""
BIG_QTY = Decimal("1000000000")


class VenueRejected(TradeloopError):
    """The venue refused an order or a cancel, with Binance's code and message."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"backtest venue rejected the request: {code} {msg}")
        self.code = code
        self.msg = msg


def rules_of(spec: SymbolSpec) -> SymbolRules:
    """The core's ``SymbolRules`` of a contract: the filters the venue enforces."""
    return SymbolRules(
        symbol=spec.symbol,
        tick_size=spec.tick_size,
        min_price=spec.min_price if spec.min_price is not None else spec.tick_size,
        max_price=spec.max_price,
        step_size=spec.step_size,
        min_qty=spec.min_qty,
        max_qty=spec.max_qty,
        market_step_size=spec.market_step_size or spec.step_size,
        market_min_qty=spec.market_min_qty or spec.min_qty,
        market_max_qty=spec.market_max_qty,
        min_notional=spec.min_notional,
        multiplier_up=spec.multiplier_up,
        multiplier_down=spec.multiplier_down,
        max_num_orders=spec.max_num_orders,
    )


def spec_for(symbol: str, price: Decimal) -> SymbolSpec:
    """The simulator's contract for a symbol it lists; for another, filters derived from a
    price of the data: the tick is the price's last decimal, the step keeps about 1 USDT."""
    listed = SYMBOL_CATALOGUE.get(symbol)
    if listed is not None:
        return listed
    exponent = price.normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 2
    tick = Decimal(1).scaleb(-decimals)
    qty_decimals = max(0, math.floor(math.log10(max(float(price), 1e-12))))
    step = Decimal(1).scaleb(-qty_decimals)
    return SymbolSpec(
        symbol=symbol,
        base_asset=symbol.removesuffix("USDT"),
        tick_size=tick,
        step_size=step,
        min_qty=step,
        max_qty=BIG_QTY,
        market_max_qty=BIG_QTY,
        min_notional=Decimal(5),
        start_price=price,
        top_qty=BIG_QTY,
        price_precision=decimals,
        quantity_precision=qty_decimals,
    )


class BacktestEngine(Engine):
    """The simulator's engine, with market orders filled ``slippage`` (a fraction) worse."""

    slippage = Decimal(0)

    def _take(self, order: EngineOrder, now: int, events: list[Event]) -> None:
        if order.type is not OrderType.MARKET or not self.slippage:
            super()._take(order, now, events)
            return
        book = self._books[order.symbol]
        tick = self.specs[order.symbol].tick_size
        fair = book.quote
        ask = (fair.ask * (1 + self.slippage) / tick).to_integral_value(ROUND_CEILING) * tick
        bid = (fair.bid * (1 - self.slippage) / tick).to_integral_value(ROUND_FLOOR) * tick
        book.quote = Quote(bid, fair.bid_qty, ask, fair.ask_qty)
        try:
            super()._take(order, now, events)
        finally:
            book.quote = fair


class BacktestVenue:
    """An ``ExchangeConnector`` over ``BacktestEngine``; the backtest loop calls ``quote``."""

    name = "backtest"

    def __init__(
        self,
        specs: dict[str, SymbolSpec],
        first_prices: Mapping[str, Decimal],
        *,
        balance: Decimal,
        leverage: int,
        maker_fee: Decimal,
        taker_fee: Decimal,
        slippage_bps: float,
        latency_ms: int,
        spread_ticks: int,
        sink: AccountCache,
        clock: Clock,
        candles: Callable[[str, str, int, int], list[Candle]],
        on_fill: Callable[[Fill, str], None],
    ) -> None:
        self.specs = specs
        self.spreads = {s: spec.tick_size * spread_ticks for s, spec in specs.items()}
        quotes = {s: self._quote(s, first_prices[s]) for s in specs}
        self.engine = BacktestEngine(
            specs,
            {MARGIN_ASSET: balance},
            leverage=leverage,
            maker_fee=maker_fee,
            taker_fee=taker_fee,
            quotes=quotes,
        )
        self.engine.slippage = Decimal(str(slippage_bps)) / 10_000
        self.latency = latency_ms / 1000
        self.sink = sink
        self.clock = clock
        self._candles = candles
        self.owners: dict[str, str] = {}
        # Each fill with its owner goes out as it happens (the backtest's trade log): the
        # venue keeps none, so memory does not grow with the trades.
        self.on_fill = on_fill
        self.activity = 0  # grows with every request and event: the loop settles until still
        self._next_id = 1
        self.counts: dict[str, int] = {
            "orders": 0,
            "rejected": 0,
            "cancels": 0,
            "events": 0,
            "fills": 0,
        }
        self._closed: deque[tuple[str, int, str]] = deque()

    def _quote(self, symbol: str, price: Decimal) -> Quote:
        qty = self.specs[symbol].top_qty
        return Quote(price, qty, price + self.spreads[symbol], qty)

    def _now(self) -> int:
        return int(self.clock.time() * 1000)

    def seed(self) -> None:
        """The starting wallet, as the first account update."""
        now = self._now()
        wallet = self.engine.wallet[MARGIN_ASSET]
        self.sink.begin_event()
        self.sink.apply_balance(
            Balance(
                asset=MARGIN_ASSET,
                wallet_balance=wallet,
                cross_wallet_balance=wallet,
                event_time=now,
                available_balance=wallet,
            )
        )
        self.sink.end_event()

    # ------------------------------------------------------------------- the loop's side

    def on_price(self, symbol: str, price: Decimal, now: int) -> None:
        """A new price: the quote moves and resting orders it crosses fill."""
        qty = self.specs[symbol].top_qty
        quote = Quote(price, qty, price + self.spreads[symbol], qty)
        events = self.engine.on_quote(symbol, quote, now)
        if events:
            self._apply(events)

    def equity(self) -> Decimal:
        """Wallet plus the unrealized PnL of every position, at the current quotes."""
        return self.engine.wallet[MARGIN_ASSET] + self.engine.total_unrealized()

    def exposed(self) -> bool:
        """True while any position is open."""
        return any(p.amount for p in self.engine.positions.values())

    # -------------------------------------------------------------- ExchangeConnector

    async def place_order(self, request: OrderRequest, *, owner: str = "bot") -> Order:
        """Match the order against the venue's book (after ``latency_ms``)."""
        if self.latency:
            await self.clock.sleep(self.latency)
        self.activity += 1
        symbol = request.symbol
        if symbol not in self.specs:
            self.counts["rejected"] += 1
            raise VenueRejected(-1121, "Invalid symbol.")
        client_id = request.client_order_id or self._client_id(owner)
        self.owners[client_id] = owner
        try:
            result = self.engine.place_order(
                symbol=symbol,
                side=Side(request.side),
                order_type=OrderType(request.type),
                quantity=request.quantity,
                price=request.price if request.type == "LIMIT" else None,
                time_in_force=TimeInForce(request.time_in_force),
                reduce_only=request.reduce_only,
                client_order_id=client_id,
                now=self._now(),
            )
        except BinanceError as exc:
            self.counts["rejected"] += 1
            raise VenueRejected(exc.code, exc.msg) from None
        self.counts["orders"] += 1
        self._apply(result.events)
        return _order(result.final, self._now())

    def new_client_order_id(self, owner: str) -> str:
        """A client order id for ``owner`` never used before in this backtest."""
        client_id = self._client_id(owner)
        self.owners[client_id] = owner
        return client_id

    def owner_of(self, client_order_id: str) -> str | None:
        """The owner a client order id was made for."""
        return self.owners.get(client_order_id)

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order:
        """Cancel an open order (after ``latency_ms``)."""
        if self.latency:
            await self.clock.sleep(self.latency)
        self.activity += 1
        order = (
            self.engine.find_order(symbol, None, client_order_id) if symbol in self.specs else None
        )
        if order is None:
            raise VenueRejected(-2011, "Unknown order sent.")
        try:
            events = self.engine.cancel_order(order, self._now())
        except BinanceError as exc:
            raise VenueRejected(exc.code, exc.msg) from None
        self.counts["cancels"] += 1
        self._apply(events)
        return _order(order.snapshot(), self._now())

    async def query_order(self, symbol: str, client_order_id: str) -> Order | None:
        """The order as the venue knows it."""
        if symbol not in self.specs:
            return None
        order = self.engine.find_order(symbol, None, client_order_id)
        return _order(order.snapshot(), self._now()) if order is not None else None

    async def fetch_account_snapshot(self) -> AccountSnapshot:
        """Balances, positions and open orders as the venue holds them."""
        now = self._now()
        engine = self.engine
        wallet = engine.wallet[MARGIN_ASSET]
        balances = (
            Balance(
                asset=MARGIN_ASSET,
                wallet_balance=wallet,
                cross_wallet_balance=wallet,
                event_time=now,
                available_balance=engine.available_balance(),
            ),
        )
        positions = tuple(
            _position(s, p.amount, p.entry_price, engine.unrealized(s), now)
            for s, p in sorted(engine.positions.items())
            if p.amount
        )
        orders = tuple(
            _order(o.snapshot(), now)
            for symbol in sorted(engine.open_orders)
            for o in engine.open_orders[symbol].values()
        )
        return AccountSnapshot(
            balances=balances, positions=positions, open_orders=orders, snapshot_time=now
        )

    async def fetch_candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        """The candles of the data before the clock's time (the last one may be forming)."""
        return self._candles(symbol, interval, limit, self._now())

    def stats(self) -> Mapping[str, Any]:
        """Counters for the run summary."""
        return {"backtest_venue": dict(self.counts)}

    # ----------------------------------------------------------------- internals

    def _client_id(self, owner: str) -> str:
        prefix = f"bt{self._next_id}-"
        self._next_id += 1
        return (prefix + owner)[:CLIENT_ID_MAX]

    def _forget_later(self, order: Order) -> None:
        """Keep the last ``KEEP_CLOSED`` closed orders; the engine's trade and income lists
        are not read by the venue (its fills go to ``on_fill``): emptied as they fill."""
        closed = self._closed
        closed.append((order.symbol, order.order_id, order.client_order_id))
        engine = self.engine
        while len(closed) > KEEP_CLOSED:
            symbol, order_id, client_id = closed.popleft()
            engine.orders.pop((symbol, order_id), None)
            engine.client_ids.pop((symbol, client_id), None)
            self.owners.pop(client_id, None)
        if len(engine.trades) > 1000:
            engine.trades.clear()
            engine.incomes.clear()

    def _apply(self, events: list[Event]) -> None:
        """Engine events to the cache, each one whole, as the user-data stream sends them."""
        sink = self.sink
        self.activity += 1
        self.counts["events"] += len(events)
        for event in events:
            if isinstance(event, OrderEvent):
                order = _order(event.order, event.time)
                if not event.order.is_open:
                    self._forget_later(order)
                sink.begin_event()
                sink.apply_order(order)
                if event.execution_type == "TRADE":
                    fill = Fill(
                        symbol=order.symbol,
                        order_id=order.order_id,
                        trade_id=event.trade_id,
                        client_order_id=order.client_order_id,
                        side=order.side,
                        price=event.last_price,
                        qty=event.last_qty,
                        fee=event.commission,
                        fee_asset=MARGIN_ASSET,
                        realized_pnl=event.realized_pnl,
                        is_maker=event.maker,
                        event_time=event.time,
                    )
                    sink.apply_fill(fill)
                    self.counts["fills"] += 1
                    self.on_fill(fill, self.owners.get(order.client_order_id, ""))
                sink.end_event()
            elif isinstance(event, AccountEvent):
                sink.begin_event()
                for asset, wallet, cross in event.balances:
                    sink.apply_balance(
                        Balance(
                            asset=asset,
                            wallet_balance=wallet,
                            cross_wallet_balance=cross,
                            event_time=event.time,
                        )
                    )
                for view in event.positions:
                    sink.apply_position(
                        _position(
                            view.symbol,
                            view.amount,
                            view.entry_price,
                            view.unrealized,
                            event.time,
                            view.break_even_price,
                        )
                    )
                sink.end_event()


def _position(
    symbol: str,
    amount: Decimal,
    entry: Decimal,
    unrealized: Decimal,
    now: int,
    break_even: Decimal | None = None,
) -> Position:
    return Position(
        symbol=symbol,
        side="BOTH",
        amount=amount,
        entry_price=entry,
        unrealized_pnl=unrealized,
        event_time=now,
        break_even_price=break_even,
    )


def _order(order: EngineOrder, now: int) -> Order:
    return Order(
        symbol=order.symbol,
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        side="BUY" if order.side is Side.BUY else "SELL",
        type=order.type.value,
        status=order.status.value,
        price=order.price,
        orig_qty=order.orig_qty,
        executed_qty=order.executed_qty,
        event_time=max(now, order.update_time),
        time_in_force=order.time_in_force.value,
        avg_price=order.avg_price,
        reduce_only=order.reduce_only,
    )
