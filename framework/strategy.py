"""Strategies: the optional base class and the order API the core gives each instance.

A strategy is a plugin instantiated once per ``strategies:`` entry. Its orders go through
``StrategyOrders`` (``ctx.orders(strategy_id)``), which refuses an order before it leaves when
strategies are held (startup, account resync, degraded mode: only cancels and reduce-only
orders go), when the instance is paused (it raised), or when the order would break the
instance's ``RiskLimits``; otherwise the connector sends it with a client order id that
carries the instance id.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
from loguru import logger

from framework.errors import (
    ExchangeFilterRejection,
    FilterRefused,
    RiskLimitExceeded,
    ShuttingDown,
    StrategyPaused,
    TradingHeld,
)
from framework.hookspecs import hookimpl
from framework.rules import FilterBreach, SymbolRules
from framework.settings import RiskLimits
from framework.state import IntentRecord
from framework.types import Alert, Candle, Order, OrderRequest, Tick

if TYPE_CHECKING:
    from framework.context import BotContext

STRATEGY_PREFIX = "strategy:"


def limits_in_force(configured: RiskLimits, strategy: object) -> RiskLimits:
    """``strategies[].risk`` with the strategy class's ``risk`` defaults filling its gaps."""
    declared = getattr(strategy, "risk", None)
    if isinstance(declared, RiskLimits):
        return configured.merged_over(declared)
    return configured


# How long an acknowledged order the cache has not reported yet still counts in risk checks
# (seconds): the user-data stream normally reports it within milliseconds.
UNSEEN_ORDER_GRACE = 60.0


class Strategy:
    """Convenient base for strategies (optional: any object with hook implementations works).

    Set ``Params`` to a msgspec Struct to get validated ``self.params``; set ``symbols`` to
    the symbols you trade (``params.symbol``/``params.symbols`` count as well, see
    ``declared_symbols``): the connector subscribes to their ticks and, on the simulator, they
    are listed; set ``risk`` to default limits that ``strategies[].risk`` may override.
    """

    Params: Any = None
    symbols: tuple[str, ...] = ()
    risk: RiskLimits = RiskLimits()
    strategy_id: str = ""  # set by the loader from ``strategies[].id``

    def __init__(self, params: Any = None) -> None:
        self.params = params
        self.state: dict[str, Any] = {}
        """What this instance saved with ``save_state`` in an earlier run (``{}`` at the
        first start, or without a state store): loaded before its ``lifespan`` starts."""

    async def save_state(self, ctx: BotContext, state: Mapping[str, Any] | None = None) -> None:
        """Save ``state`` (default: ``self.state``) as this instance's state, durably with a
        state store (the journal), before this returns; it becomes ``self.state``.

        A JSON object: ``Decimal`` values are saved as strings and load as strings.
        ``ValueError`` if it cannot be saved as JSON.
        """
        if state is not None or not hasattr(self, "state"):  # a subclass may skip __init__
            self.state = dict(state or {})
        await ctx.save_strategy_state(self.strategy_id, self.state)

    @classmethod
    @hookimpl
    def declare_settings(cls) -> type | None:
        """``Params``: what ``strategies[].params`` is validated against."""
        params: type | None = cls.Params
        return params

    def orders(self, ctx: BotContext) -> StrategyOrders:
        """This instance's order API."""
        return ctx.orders(self.strategy_id)

    async def history(
        self, ctx: BotContext, symbol: str, interval: str = "1m", limit: int = 500
    ) -> list[Candle]:
        """Recent candles of ``symbol`` through the connector (``BotContext.history``): e.g.
        ``await self.history(ctx, "BTCUSDT", "1m", 200)`` in ``warm_up``."""
        return await ctx.history(symbol, interval, limit)

    def spawn(
        self, ctx: BotContext, coro: Coroutine[Any, Any, Any], name: str
    ) -> asyncio.Task[Any]:
        """Run ``coro`` (e.g. placing orders) as a task of this instance.

        Hooks have short time budgets (``on_tick``: 50 ms), so a handler that talks to the
        exchange spawns the work instead of awaiting it. An exception in the task pauses this
        instance, like one in a hook.
        """
        return ctx.spawn(coro, name=name, owner=STRATEGY_PREFIX + self.strategy_id)


def declared_symbols(params: Mapping[str, Any], plugin: object) -> list[str]:
    """The symbols one strategy instance trades, upper-cased, first mention first.

    The rule every connector subscribes by (through ``ctx.subscribed_symbols()``):
    ``params.symbols`` (a list) and ``params.symbol`` (one name) of its ``strategies[]``
    entry, then the instance's ``symbols`` attribute (a list, tuple or set of names).
    """
    wanted: list[Any] = []
    if isinstance(params.get("symbols"), (list, tuple)):
        wanted.extend(params["symbols"])
    if isinstance(params.get("symbol"), str):
        wanted.append(params["symbol"])
    attr = getattr(plugin, "symbols", None)
    if isinstance(attr, (list, tuple)):
        wanted.extend(attr)
    elif isinstance(attr, (set, frozenset)):
        wanted.extend(sorted(attr, key=str))
    out: dict[str, None] = {}
    for symbol in wanted:
        if isinstance(symbol, str) and symbol:
            out.setdefault(symbol.upper(), None)
    return list(out)


def refused_by_exchange(exc: BaseException) -> bool:
    """True for an answer in which the exchange refused an order (an HTTP 4xx with an error
    code: insufficient margin, a filter, ...), not a rate limit (429/418, alerted apart), a
    transport failure or a server error."""
    status = getattr(exc, "status", None)
    return isinstance(status, int) and 400 <= status < 500 and status not in (418, 429)


class StrategyOrders:
    """Place, cancel and query orders for one strategy instance, within its risk limits."""

    def __init__(
        self,
        ctx: BotContext,
        strategy_id: str,
        limits: RiskLimits,
        *,
        last_tick: Callable[[str], Tick | None],
    ) -> None:
        self._ctx = ctx
        self.strategy_id = strategy_id
        self.plugin_name = STRATEGY_PREFIX + strategy_id
        self.limits = limits
        self._last_tick = last_tick
        self._pending: dict[tuple[str, str], Decimal] = {}  # (symbol, side) -> qty on its way
        # Acknowledged open by the exchange, not reported by the cache yet: (order, when).
        self._unseen: dict[tuple[str, int], tuple[Order, float]] = {}
        # Answered with fills the cache has not reported yet (the position lags): (order, when).
        self._unseen_fills: dict[tuple[str, int], tuple[Order, float]] = {}
        self.stats: Counter[str] = Counter()

    # ---------------------------------------------------------------------------- API

    async def place(
        self, request: OrderRequest, *, round_to_rules: bool = False, intent: str = ""
    ) -> Order:
        """Check, then send ``request``; raises ``OrderRefused`` subclasses when refused.

        Every request is checked against the symbol's exchange rules (``ctx.rules``): one that
        breaks a filter raises ``FilterRefused`` naming each filter with the values, and is
        never sent. ``round_to_rules``: round the price to the tick (down for a BUY, up for a
        SELL) and the quantity down to the step first; what still breaks a filter (below the
        minimum quantity or notional, outside the price band) is refused the same way.

        Every order is recorded (durably, with a state store such as the journal) before it
        is sent. ``intent`` names what the order is for (``"entry-42"``): placing an intent
        this instance placed before, in this run or an earlier one, sends nothing and returns
        its order as the exchange has it now; an order the exchange never got is sent then,
        under its recorded client order id. So a strategy that restarts and decides again
        never doubles an order (docs/strategies.md#restarts-state-and-intents).
        """
        try:
            self._check_allowed(request)
            request = self._check_rules(request, round_to_rules=round_to_rules)
        except (TradingHeld, StrategyPaused, FilterRefused) as exc:
            self._refused(exc)
            raise
        book = self._ctx.intents
        key = intent or request.client_order_id
        if not key:
            return await self._send_new(request, intent)
        lock = book.lock(self.strategy_id, key)
        try:
            async with lock:
                record = await book.lookup(self.strategy_id, key)
                if record is None:
                    return await self._send_new(request, intent)
                return await self._replay(record)
        finally:
            book.release(self.strategy_id, key)

    def _refused(self, exc: Exception) -> None:
        self.stats["refused"] += 1
        self.stats[f"refused_{type(exc).__name__}"] += 1
        if isinstance(exc, FilterRefused):
            for name in exc.filters:
                self.stats[f"refused_filter_{name}"] += 1
        logger.bind(plugin=self.plugin_name, log_key="order_refused").warning(
            "order refused for strategy {!r}: {}", self.strategy_id, exc
        )

    async def _send_new(self, request: OrderRequest, intent: str) -> Order:
        """Check the risk limits, record, send, acknowledge."""
        try:
            self._check_risk(request)
        except RiskLimitExceeded as exc:
            self._refused(exc)
            raise
        exchange = self._ctx.exchange
        cid = request.client_order_id or exchange.new_client_order_id(self.strategy_id)
        if request.client_order_id != cid:
            request = msgspec.structs.replace(request, client_order_id=cid)
        record = IntentRecord(
            strategy_id=self.strategy_id,
            intent=intent or cid,
            client_order_id=cid,
            request=request,
            created_at=int(self._ctx.clock.time() * 1000),
        )
        await self._ctx.intents.record(record)
        order = await self._send(request)
        try:
            await self._ctx.intents.acknowledge(record, order.order_id)
        except Exception as exc:  # noqa: BLE001 - the order stands; the next start looks it up
            logger.warning("order {} could not be marked as acknowledged: {}", cid, exc)
        return order

    async def _replay(self, record: IntentRecord) -> Order:
        """An intent placed before: its order as the exchange has it, sent only if the
        exchange never got it."""
        exchange = self._ctx.exchange
        self._ctx.intents.stats["replayed"] += 1
        order = await self._ctx.intents.find(record, exchange.query_order)
        if order is not None:
            logger.bind(plugin=self.plugin_name).info(
                "intent {!r} was placed before as {}: not sent again ({})",
                record.intent,
                record.client_order_id,
                order.status,
            )
            self.stats["replayed"] += 1
            self._ctx.apply_order_answer(order)
            if record.order_id is None:
                await self._ctx.intents.acknowledge(record, order.order_id)
            return order
        logger.bind(plugin=self.plugin_name).info(
            "intent {!r} ({}) never reached the exchange: sending it now",
            record.intent,
            record.client_order_id,
        )
        order = await self._send(record.request)
        await self._ctx.intents.acknowledge(record, order.order_id)
        return order

    async def _send(self, request: OrderRequest) -> Order:
        key = (request.symbol, request.side)
        self._pending[key] = self._pending.get(key, Decimal(0)) + request.quantity
        in_flight = self._ctx.orders_in_flight
        resting = request.type == "LIMIT"
        if resting:
            in_flight[request.symbol] += 1
        try:
            order = await self._ctx.exchange.place_order(request, owner=self.strategy_id)
        except ExchangeFilterRejection as exc:
            self.stats["failed"] += 1
            self.stats["exchange_refused_filter"] += 1
            self.stats[f"exchange_refused_filter_{exc.filter or 'unknown'}"] += 1
            if refused_by_exchange(exc):
                self._alert_refused(request, exc)
            raise
        except Exception as exc:
            self.stats["failed"] += 1
            if refused_by_exchange(exc):
                self._alert_refused(request, exc)
            raise
        finally:
            left = self._pending.get(key, Decimal(0)) - request.quantity
            if left:
                self._pending[key] = left
            else:
                self._pending.pop(key, None)
            if resting:
                in_flight[request.symbol] -= 1
                if in_flight[request.symbol] <= 0:
                    del in_flight[request.symbol]
        self.stats["placed"] += 1
        now = self._ctx.clock.time()
        if order.is_open:
            self._unseen[(order.symbol, order.order_id)] = (order, now)
        if order.executed_qty > 0:
            self._unseen_fills[(order.symbol, order.order_id)] = (order, now)
        return order

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        """Cancel one order by its client order id (allowed while held or paused)."""
        order = await self._ctx.exchange.cancel_order(symbol, client_order_id)
        self.stats["canceled"] += 1
        if not order.is_open:
            self._unseen.pop((order.symbol, order.order_id), None)
        return order

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel every open order of this instance (on ``symbol``, or everywhere)."""
        return [await self.cancel(o.symbol, o.client_order_id) for o in self.open_orders(symbol)]

    async def query(self, symbol: str, client_order_id: str) -> Order | None:
        """The order as the exchange knows it, or ``None``."""
        return await self._ctx.exchange.query_order(symbol, client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """This instance's open orders (on ``symbol``, or everywhere).

        Those in the cache, plus those the exchange acknowledged that the cache has not
        reported yet (the user-data stream lags the REST answer).
        """
        owner_of = self._ctx.exchange.owner_of
        mine = self.strategy_id
        cached = [
            order
            for (sym, _), order in self._ctx.cache.open_orders.items()
            if (symbol is None or sym == symbol) and owner_of(order.client_order_id) == mine
        ]
        return cached + self._not_in_cache(symbol)

    def _not_in_cache(self, symbol: str | None) -> list[Order]:
        """Acknowledged orders the cache has not reported yet (forgotten once it has)."""
        account = self._ctx.cache
        now = self._ctx.clock.time()
        for key, (_, at) in list(self._unseen.items()):
            if account.order(*key) is not None or now - at > UNSEEN_ORDER_GRACE:
                del self._unseen[key]
        return [o for (sym, _), (o, _) in self._unseen.items() if symbol is None or sym == symbol]

    def _alert_refused(self, request: OrderRequest, exc: Exception) -> None:
        ctx = self._ctx
        ctx.hooks.on_alert(
            Alert(
                kind="order_refused",
                subject=self.strategy_id,
                message=(
                    f"exchange refused {request.side} {request.quantity} {request.symbol} "
                    f"{request.type} of strategy {self.strategy_id}: {exc}"
                ),
                at=ctx.clock.time(),
            )
        )

    # ------------------------------------------------------------------------- checks

    def _check_allowed(self, request: OrderRequest) -> None:
        stopping = self._ctx.shutting_down
        if stopping and not request.reduces:
            # Nothing new once the bot is stopping (whatever still runs: a tick being handled,
            # a stop): the way out, cancels and reduce-only orders (or a hedge-mode close),
            # always goes.
            raise ShuttingDown(
                f"the bot is shutting down ({stopping}); only cancels and reduce-only orders"
            )
        held = self._ctx.trading_held
        if held and not request.reduces:
            # A reduce-only order (or a hedge-mode close) can only shrink a position: a held
            # strategy can always get out (cancels are never checked).
            raise TradingHeld(f"strategies are held: {held}; only cancels and reduce-only orders")
        reason = self._ctx.strategy_paused(self.strategy_id)
        if reason:
            raise StrategyPaused(f"strategy {self.strategy_id!r} is paused: {reason}")

    def check(
        self, request: OrderRequest, *, round_to_rules: bool = False
    ) -> tuple[FilterBreach, ...]:
        """Every exchange filter ``request`` would break if placed now (empty: none), judged
        as ``place`` judges it: the last tick's mid as the mark (``exchange.mark_price_margin``
        inside the bounds), the account's open and in-flight orders on the symbol;
        ``round_to_rules``: after rounding. Nothing is sent or counted."""
        rules, breach = self._rules_of(request.symbol)
        if rules is None:
            return () if breach is None else (breach,)
        if round_to_rules:
            request = rules.rounded(request)
        return self._breaches(rules, request)

    def _rules_of(self, symbol: str) -> tuple[SymbolRules | None, FilterBreach | None]:
        """The symbol's rules, or why there are none (``(None, None)``: no connector
        published rules, nothing can be checked)."""
        ctx = self._ctx
        rules = ctx.rules(symbol)
        if rules is not None and rules.symbol != symbol:  # the venue's names are upper case
            message = f"the exchange lists {rules.symbol}, not {symbol}"
            return None, FilterBreach(filter="SYMBOL_STATUS", message=message)
        if rules is None and ctx.rules_known:
            message = (
                f"no rules for {symbol}: the exchange does not list it (or its rules could "
                "not be read)"
            )
            return None, FilterBreach(filter="SYMBOL_STATUS", message=message)
        return rules, None

    def _breaches(self, rules: SymbolRules, request: OrderRequest) -> tuple[FilterBreach, ...]:
        ctx = self._ctx
        symbol = request.symbol
        tick = self._last_tick(symbol)
        best = None
        if tick is not None and request.type == "MARKET":
            best = tick.ask if request.side == "BUY" else tick.bid
        return rules.check(
            request,
            mark=tick.mid if tick is not None else None,
            mark_margin=Decimal(str(ctx.settings.exchange.mark_price_margin)),
            open_orders=len(ctx.cache.orders_for(symbol)) + ctx.orders_in_flight[symbol],
            best=best,
            position=self._position_now(symbol, request.position_side),
            same_side=abs(self._same_side_exposure(request)) - request.quantity,
        )

    def _position_now(self, symbol: str, side: str = "BOTH") -> Decimal:
        """The position (``side``: ``BOTH``, or a hedge-mode ``LONG``/``SHORT``) as the cache
        has it, plus the fills of this instance's orders on it the exchange answered with and
        the cache's position does not include yet (its last update is older than the
        answer)."""
        cache = self._ctx.cache
        position = cache.position(symbol, side)
        amount = position.amount if position is not None else Decimal(0)
        now = self._ctx.clock.time()
        for key, (order, at) in list(self._unseen_fills.items()):
            # the position is as of its last update: one at or after the answer's includes it
            as_of = cache.position_time(key[0], order.position_side)
            if (as_of is not None and as_of >= order.event_time) or now - at > UNSEEN_ORDER_GRACE:
                del self._unseen_fills[key]
            elif key[0] == symbol and order.position_side == side:
                amount += order.executed_qty if order.side == "BUY" else -order.executed_qty
        return amount

    def _check_rules(self, request: OrderRequest, *, round_to_rules: bool) -> OrderRequest:
        """``request`` (rounded if asked) if it passes the symbol's filters; else
        ``FilterRefused``. Without rules from the connector nothing is checked (counted as
        ``unchecked``)."""
        rules, breach = self._rules_of(request.symbol)
        if breach is not None:
            raise FilterRefused(request.symbol, [breach])
        if rules is None:
            self.stats["unchecked"] += 1
            return request
        if round_to_rules:
            rounded = rules.rounded(request)
            if rounded is not request:
                self.stats["rounded"] += 1
            request = rounded
        breaches = self._breaches(rules, request)
        if breaches:
            raise FilterRefused(request.symbol, breaches)
        return request

    def _check_risk(self, request: OrderRequest) -> None:
        limits = self.limits
        if limits.max_order_notional is not None:
            price = request.price if request.type == "LIMIT" else self._market_price(request)
            if price is None:
                raise RiskLimitExceeded(
                    f"no price known for {request.symbol} yet to check max_order_notional"
                )
            notional = request.quantity * price
            if notional > limits.max_order_notional:
                raise RiskLimitExceeded(
                    f"{request.side} {request.quantity} {request.symbol} is {notional:f} "
                    f"notional, above max_order_notional {limits.max_order_notional}"
                )
        if limits.max_open_orders is not None and request.type == "LIMIT":
            count = len(self.open_orders(request.symbol))
            if count >= limits.max_open_orders:
                raise RiskLimitExceeded(
                    f"{count} open orders on {request.symbol}, max_open_orders is "
                    f"{limits.max_open_orders}"
                )
        if limits.max_position is not None and not request.reduces:
            position = self._ctx.cache.position(request.symbol)
            now = position.amount if position is not None else Decimal(0)
            worst = now + self._same_side_exposure(request)
            if abs(worst) > limits.max_position and abs(worst) > abs(now):
                raise RiskLimitExceeded(
                    f"{request.side} {request.quantity} {request.symbol} could take the "
                    f"position to {worst:f} (open orders included), beyond max_position "
                    f"{limits.max_position}"
                )

    def _same_side_exposure(self, request: OrderRequest) -> Decimal:
        """Signed quantity of this order plus every open or pending order on its side."""
        total = request.quantity + self._pending.get((request.symbol, request.side), Decimal(0))
        symbol = request.symbol
        for order in [*self._ctx.cache.orders_for(symbol), *self._not_in_cache(symbol)]:
            if order.side == request.side and not order.reduce_only:
                total += order.orig_qty - order.executed_qty
        return total if request.side == "BUY" else -total

    def _market_price(self, request: OrderRequest) -> Decimal | None:
        tick = self._last_tick(request.symbol)
        if tick is None:
            return None
        return tick.ask if request.side == "BUY" else tick.bid
