"""The market-data REST routes (klines, book, tickers, trades, funding) and ``allOrders``.

Weights are Binance's (docs/simulator.md lists them); answers come from the candles and trades
the price loop streamed, so a client sees the same market over REST and over the streams.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import market_wire, wire
from .brackets import leverage_brackets
from .candles import INTERVALS, MINUTE_MS, open_time_of
from .errors import BinanceError, bad_combination, invalid_param, invalid_symbol, mandatory
from .market_wire import FUNDING_MS
from .rest import Call, Endpoint, Security, p_int, p_limit, p_str

if TYPE_CHECKING:
    from .exchange import SimExchange

DEPTH_LIMITS = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
"""``GET /fapi/v1/depth``: valid ``limit`` values and their weights."""
KLINES_MAX = 1500


def klines_weight(params: dict[str, str]) -> int:
    """Weight of ``klines``/``continuousKlines`` by ``limit`` (default 500): [1,100) 1,
    [100,500) 2, [500,1000] 5, above 10."""
    raw = params.get("limit") or "500"
    limit = int(raw) if raw.isdigit() and len(raw) < 10 else 500
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def depth_weight(params: dict[str, str]) -> int:
    """Weight of ``depth`` by ``limit`` (default 500)."""
    raw = params.get("limit") or "500"
    return DEPTH_LIMITS.get(int(raw), 10) if raw.isdigit() and len(raw) < 10 else 10


def _per_symbol(one: int, every: int) -> Callable[[dict[str, str]], int]:
    return lambda params: one if params.get("symbol") else every


def _w(n: int) -> Callable[[dict[str, str]], int]:
    return lambda _params: n


class MarketApi:
    """The market-data handlers of one ``SimExchange``."""

    def __init__(self, exchange: SimExchange) -> None:
        self.ex = exchange

    def routes(self) -> dict[str, dict[str, Endpoint]]:
        """Path -> method -> endpoint, merged into the REST API's table."""
        none, signed = Security.NONE, Security.SIGNED
        return {
            "/fapi/v1/klines": {"GET": Endpoint(self.klines, none, klines_weight)},
            "/fapi/v1/continuousKlines": {
                "GET": Endpoint(self.continuous_klines, none, klines_weight)
            },
            "/fapi/v1/depth": {"GET": Endpoint(self.depth, none, depth_weight)},
            "/fapi/v1/ticker/24hr": {"GET": Endpoint(self.ticker_24h, none, _per_symbol(1, 40))},
            "/fapi/v1/ticker/price": {"GET": Endpoint(self.ticker_price, none, _per_symbol(1, 2))},
            "/fapi/v2/ticker/price": {"GET": Endpoint(self.ticker_price, none, _per_symbol(1, 2))},
            "/fapi/v1/ticker/bookTicker": {
                "GET": Endpoint(self.book_ticker, none, _per_symbol(2, 5))
            },
            "/fapi/v1/aggTrades": {"GET": Endpoint(self.agg_trades, none, _w(20))},
            "/fapi/v1/premiumIndex": {
                "GET": Endpoint(self.premium_index, none, _per_symbol(1, 10))
            },
            "/fapi/v1/fundingRate": {"GET": Endpoint(self.funding_rate, none, _w(1))},
            "/fapi/v1/openInterest": {"GET": Endpoint(self.open_interest, none, _w(1))},
            "/fapi/v1/leverageBracket": {"GET": Endpoint(self.leverage_bracket, signed, _w(1))},
            "/fapi/v1/allOrders": {"GET": Endpoint(self.all_orders, signed, _w(5))},
            # wallet endpoints Binance client libraries read while loading markets (ccxt)
            "/sapi/v1/capital/config/getall": {"GET": Endpoint(self.coins, signed, _w(10))},
            "/sapi/v1/margin/allPairs": {
                "GET": Endpoint(self.margin_pairs, Security.USER_STREAM, _w(1))
            },
        }

    # ------------------------------------------------------------------ helpers

    def _symbol(self, params: dict[str, str], name: str = "symbol") -> str:
        symbol = p_str(params, name)
        if symbol is None:
            raise mandatory(name)
        if symbol not in self.ex.engine.specs:
            raise invalid_symbol()
        return symbol

    def _symbols(self, params: dict[str, str]) -> list[str]:
        """The ``symbol`` asked for, or every listed one."""
        return [self._symbol(params)] if p_str(params, "symbol") else list(self.ex.engine.specs)

    @staticmethod
    def _one_or_all(rows: list[dict[str, Any]], params: dict[str, str]) -> Any:
        return rows[0] if p_str(params, "symbol") else rows

    # ------------------------------------------------------------------ klines

    async def klines(self, call: Call) -> Any:
        """``GET /fapi/v1/klines``: ``symbol``, ``interval``, ``startTime``, ``endTime``,
        ``limit`` (default 500, max 1500)."""
        return self._klines(self._symbol(call.params), call)

    async def continuous_klines(self, call: Call) -> Any:
        """``GET /fapi/v1/continuousKlines``: ``pair`` and ``contractType`` (``PERPETUAL``, the
        only kind listed) instead of ``symbol``."""
        params = call.params
        pair = self._symbol(params, "pair")
        kind = p_str(params, "contractType")
        if kind is None:
            raise mandatory("contractType")
        if kind != "PERPETUAL":
            raise BinanceError(400, -4015, "Invalid contract type.")
        return self._klines(pair, call)

    def _klines(self, symbol: str, call: Call) -> Any:
        params = call.params
        interval = p_str(params, "interval")
        if interval is None:
            raise mandatory("interval")
        if interval not in INTERVALS:
            raise BinanceError(400, -1120, "Invalid interval.")
        start = p_int(params, "startTime")
        end = p_int(params, "endTime")
        limit = p_limit(params, 500, KLINES_MAX)
        if start is not None and end is not None and start > end:
            raise BinanceError(400, -1023, "Start time is greater than end time.")
        self.ex.candles[symbol].roll_to(call.now)
        spec = self.ex.engine.specs[symbol]
        rows = self.ex.candles[symbol].series[interval].window(start, end, limit)
        pp, qp = spec.price_precision, spec.quantity_precision
        return [market_wire.kline_row(c, pp, qp) for c in rows]

    # ------------------------------------------------------------------ book and tickers

    async def depth(self, call: Call) -> Any:
        """``GET /fapi/v1/depth``: ``limit`` one of 5, 10, 20, 50, 100, 500 (default), 1000;
        the simulated book has 50 levels a side."""
        params = call.params
        symbol = self._symbol(params)
        limit = p_int(params, "limit") or 500
        if limit not in DEPTH_LIMITS:
            raise invalid_param("limit")
        spec = self.ex.engine.specs[symbol]
        book = self.ex.engine.depth(symbol, limit)
        return market_wire.depth(spec, book, self.ex.paths[symbol].last.update_id, call.now)

    async def ticker_24h(self, call: Call) -> Any:
        """``GET /fapi/v1/ticker/24hr`` (one symbol, or all)."""
        rows = []
        for symbol in self._symbols(call.params):
            candles = self.ex.candles[symbol]
            candles.roll_to(call.now)
            since = open_time_of("1m", call.now) - 1439 * MINUTE_MS
            day = candles.series["1m"].window(since, None, 1440)
            trades = self.ex.agg_trades[symbol]
            last = trades[-1] if trades else None
            close = self.ex.paths[symbol].last.trade_price
            rows.append(
                market_wire.ticker_24h(self.ex.engine.specs[symbol], day, last, call.now, close)
            )
        return self._one_or_all(rows, call.params)

    async def ticker_price(self, call: Call) -> Any:
        """``GET /fapi/v1/ticker/price`` and ``/fapi/v2/ticker/price``: the last trade price."""
        rows = [
            market_wire.price_ticker(
                self.ex.engine.specs[s], self.ex.paths[s].last.trade_price, call.now
            )
            for s in self._symbols(call.params)
        ]
        return self._one_or_all(rows, call.params)

    async def book_ticker(self, call: Call) -> Any:
        """``GET /fapi/v1/ticker/bookTicker``: the top of the book, as ``@bookTicker`` sent it."""
        rows = []
        for s in self._symbols(call.params):
            t = self.ex.paths[s].last
            spec = self.ex.engine.specs[s]
            rows.append(market_wire.book_ticker(spec, t.bid, t.bid_qty, t.ask, t.ask_qty, call.now))
        return self._one_or_all(rows, call.params)

    # ------------------------------------------------------------------ trades

    async def agg_trades(self, call: Call) -> Any:
        """``GET /fapi/v1/aggTrades``: ``fromId``, or ``startTime``/``endTime`` (at most one hour
        apart), ``limit`` (default 500, max 1000); the most recent ones without them. The
        candle history's trades (made from its minutes) come before the streamed ones."""
        params = call.params
        symbol = self._symbol(params)
        from_id = p_int(params, "fromId")
        start = p_int(params, "startTime")
        end = p_int(params, "endTime")
        limit = p_limit(params, 500, 1000)
        if from_id is not None and (start is not None or end is not None):
            raise bad_combination()
        if start is not None and end is not None and end - start > 3_600_000:
            raise BinanceError(400, -1127, "More than 1 hours between startTime and endTime.")
        live = [
            r
            for r in self.ex.agg_trades[symbol]
            if (from_id is None or r.agg_id >= from_id)
            and (start is None or r.time >= start)
            and (end is None or r.time <= end)
        ]
        history = self.ex.history_trades[symbol]
        if from_id is not None or start is not None:
            rows = history.after(from_id, start, end, limit)
            rows = (rows + live)[:limit]
        else:
            rows = live[-limit:]
            if len(rows) < limit:
                rows = history.before(end, limit - len(rows)) + rows
        spec = self.ex.engine.specs[symbol]
        return [market_wire.agg_trade_row(r, spec) for r in rows]

    # ------------------------------------------------------------------ funding

    async def premium_index(self, call: Call) -> Any:
        """``GET /fapi/v1/premiumIndex`` (one symbol, or all)."""
        engine = self.ex.engine
        rows = [
            market_wire.premium_index(engine.specs[s], wire.f8(engine.mark_price(s)), call.now)
            for s in self._symbols(call.params)
        ]
        return self._one_or_all(rows, call.params)

    async def funding_rate(self, call: Call) -> Any:
        """``GET /fapi/v1/fundingRate``: a constant rate every 8 h over the candle history, the
        mark price being that minute's close; ``limit`` default 100, max 1000."""
        params = call.params
        start = p_int(params, "startTime")
        end = p_int(params, "endTime")
        limit = p_limit(params, 100, 1000)
        rows: list[tuple[int, str, str]] = []
        for symbol in self._symbols(params):
            spec = self.ex.engine.specs[symbol]
            minutes = self.ex.candles[symbol].series["1m"].closed
            closes = {c.close_time + 1: c.close for c in minutes}
            if not minutes:
                continue
            at = minutes[0].open_time - minutes[0].open_time % FUNDING_MS + FUNDING_MS
            while at <= call.now:
                close = closes.get(at)
                if close is not None:
                    mark = wire.f8(Decimal(close).scaleb(-spec.price_precision))
                    rows.append((at, symbol, mark))
                at += FUNDING_MS
        rows = sorted(
            r for r in rows if (start is None or r[0] >= start) and (end is None or r[0] <= end)
        )
        rows = rows[:limit] if start is not None else rows[-limit:]
        return [market_wire.funding_row(symbol, at, mark) for at, symbol, mark in rows]

    async def open_interest(self, call: Call) -> Any:
        """``GET /fapi/v1/openInterest``: a synthetic market-wide base (5,000 times the top of
        book size) plus the account's own position."""
        symbol = self._symbol(call.params)
        spec = self.ex.engine.specs[symbol]
        amount = spec.top_qty * 5000 + abs(self.ex.engine.positions[symbol].amount)
        return market_wire.open_interest(spec, amount, call.now)

    # ------------------------------------------------------------------ signed

    async def leverage_bracket(self, call: Call) -> Any:
        """``GET /fapi/v1/leverageBracket``: an object with ``symbol``, else a list of all."""
        rows = [leverage_brackets(self.ex.engine.specs[s]) for s in self._symbols(call.params)]
        return self._one_or_all(rows, call.params)

    async def all_orders(self, call: Call) -> Any:
        """``GET /fapi/v1/allOrders``: the symbol's orders (open and kept history) by order id;
        ``orderId`` (from it on), ``startTime``/``endTime`` (creation time), ``limit`` (500,
        max 1000)."""
        params = call.params
        symbol = self._symbol(params)
        order_id = p_int(params, "orderId")
        start = p_int(params, "startTime")
        end = p_int(params, "endTime")
        limit = p_limit(params, 500, 1000)
        engine = self.ex.engine
        orders = sorted(
            (
                o
                for (s, _), o in engine.orders.items()
                if s == symbol
                and (order_id is None or o.order_id >= order_id)
                and (start is None or o.time >= start)
                and (end is None or o.time <= end)
            ),
            key=lambda o: o.order_id,
        )
        orders = orders[:limit] if order_id is not None or start is not None else orders[-limit:]
        spec = engine.specs[symbol]
        return [wire.order_json(o, spec, query=True) for o in orders]

    # ------------------------------------------------------------------ wallet

    async def coins(self, call: Call) -> Any:
        """``GET /sapi/v1/capital/config/getall``: the assets the simulator knows (the margin
        asset and the listed contracts' base assets), with no deposit networks."""
        assets = dict.fromkeys(
            [*self.ex.engine.wallet, *(s.base_asset for s in self.ex.engine.specs.values())]
        )
        return [
            {
                "coin": asset,
                "name": asset,
                "free": wire.f8(self.ex.engine.wallet.get(asset, Decimal(0))),
                "locked": "0",
                "isLegalMoney": False,
                "trading": True,
                "depositAllEnable": False,
                "withdrawAllEnable": False,
                "networkList": [],
            }
            for asset in assets
        ]

    async def margin_pairs(self, call: Call) -> Any:
        """``GET /sapi/v1/margin/allPairs``: none (the simulator has no spot margin)."""
        return []
