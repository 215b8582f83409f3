"""The simulator serves each symbol's filters and enforces them with
Binance's codes; the core's ``SymbolRules``, read from that ``exchangeInfo`` by the connector's
own reader, passes exactly the orders the simulator accepts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_helpers import Client

from framework import OrderRequest, SymbolRules
from plugins.binance.checks import Horizon, Names
from plugins.binance.rules import InfoReader, rules_of
from plugins.sim import SimExchange
from plugins.sim.errors import BinanceError
from plugins.sim.filters import check_order
from plugins.sim.symbols import SYMBOL_CATALOGUE
from plugins.sim.testing import SimFactory
from plugins.sim.wire import exchange_info

D = Decimal


def _rules() -> dict[str, SymbolRules]:
    body = orjson.dumps(exchange_info(list(SYMBOL_CATALOGUE.values()), 0, 2400, 300, 1200))
    rows = InfoReader(Names(), Horizon(lambda: 0, 10**12))(body)
    assert rows.bad == []
    return {entry.symbol: rules_of(entry) for entry in rows.good}


RULES = _rules()


async def expect(client: Client, params: dict[str, Any], code: int) -> str:
    got, body, _ = await client.call("POST", "/fapi/v1/order", params)
    assert (got, body.get("code")) == (400, code), body
    return str(body["msg"])


def order(symbol: str, side: str, qty: str, price: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"symbol": symbol, "side": side, "quantity": qty}
    if price is None:
        return {**out, "type": "MARKET"}
    return {**out, "type": "LIMIT", "price": price, "timeInForce": "GTC"}


async def test_each_filter_answers_with_its_binance_code(make_sim: SimFactory, http: Any) -> None:
    sim = await make_sim(symbols=["BTCUSDT", "XRPUSDT"])
    client = Client(http, sim)
    assert await expect(client, order("BTCUSDT", "BUY", "0.0001"), -1111)
    assert await expect(client, order("BTCUSDT", "BUY", "0", "60000"), -4003)
    msg = await expect(client, order("XRPUSDT", "BUY", "0.1", "0.6"), -4164)
    assert msg == "Order's notional must be no smaller than 5 (unless you choose reduce only)."
    assert await expect(client, order("BTCUSDT", "BUY", "1001", "60000"), -4005)
    assert await expect(client, order("BTCUSDT", "BUY", "121"), -4005)  # MARKET_LOT_SIZE max
    # XRPUSDT: LOT_SIZE steps 0.1, MARKET_LOT_SIZE steps 1 (from a minimum of 1)
    assert await expect(client, order("XRPUSDT", "BUY", "20.5"), -4023)
    assert await expect(client, order("XRPUSDT", "BUY", "0.5"), -4004)
    await client.order(**order("XRPUSDT", "BUY", "20.5", "0.5900"))
    assert await expect(client, order("BTCUSDT", "BUY", "0.01", "0.05"), -4013)
    assert await expect(client, order("BTCUSDT", "BUY", "0.01", "4529765"), -4002)
    assert await expect(client, order("BTCUSDT", "BUY", "0.01", "60000.05"), -4014)
    assert sim.engine.refusals.filters == 10
    assert sim.engine.refusals.by_code[-4005] == 2


async def test_exchange_info_serves_the_filters_as_binance_shapes_them(
    sim: SimExchange, client: Client
) -> None:
    info = await client.ok("GET", "/fapi/v1/exchangeInfo", signed=False)
    filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
    assert filters["PRICE_FILTER"] == {
        "filterType": "PRICE_FILTER",
        "minPrice": "0.10",
        "maxPrice": "4529764",
        "tickSize": "0.10",
    }
    assert filters["MARKET_LOT_SIZE"]["maxQty"] == "120"


def _accepts(symbol: str, request: OrderRequest, mark: Decimal) -> bool:
    try:
        check_order(
            SYMBOL_CATALOGUE[symbol],
            side=request.side,
            market=request.type == "MARKET",
            quantity=request.quantity,
            price=request.price,
            reduce_only=request.reduce_only,
            mark=mark,
        )
    except BinanceError:
        return False
    return True


@st.composite
def requests(draw: st.DrawFn) -> tuple[OrderRequest, Decimal]:
    symbol = draw(st.sampled_from(sorted(SYMBOL_CATALOGUE)))
    spec = SYMBOL_CATALOGUE[symbol]
    mark = spec.start_price
    market = draw(st.booleans())
    # around the interesting edges: the minimum quantity/notional, the band, the tick, the step
    qty = spec.min_qty * draw(st.integers(0, 3000)) / 10 ** draw(st.integers(0, 2))
    price = None
    if not market:
        factor = D(draw(st.integers(9000, 11000))) / 10000
        price = (mark * factor).quantize(D(1).scaleb(-draw(st.integers(0, 6))))
    request = OrderRequest(
        symbol=symbol,
        side=draw(st.sampled_from(["BUY", "SELL"])),
        type="MARKET" if market else "LIMIT",
        quantity=qty.normalize() if qty else D(0),
        price=price,
        reduce_only=draw(st.booleans()),
    )
    return request, mark


@settings(max_examples=3000, deadline=None)
@given(case=requests())
def test_the_core_check_passes_exactly_what_the_simulator_accepts(
    case: tuple[OrderRequest, Decimal],
) -> None:
    request, mark = case
    rules = RULES[request.symbol]
    local = rules.check(request, mark=mark)
    assert (local == ()) == _accepts(request.symbol, request, mark), local


async def test_a_market_order_whose_best_counterparty_price_is_outside_the_band_is_refused(
    make_sim: SimFactory, http: Any
) -> None:
    """-4131: the band is checked on the best ask (BUY) or bid (SELL) against the mark; a
    book that wide only comes from outside (a venue's quote), so the test puts it there."""
    sim = await make_sim(symbols=["BTCUSDT"])
    client = Client(http, sim)
    # mark (mid) 60000; the ask 6.5 % above it, the bid 6.5 % below: both outside 0.95..1.05
    sim.apply_quote("BTCUSDT", D("56100"), D("5"), D("63900"), D("5"))
    msg = await expect(client, order("BTCUSDT", "BUY", "0.010"), -4131)
    assert msg == "The counterparty's best price does not meet the PERCENT_PRICE filter limit."
    assert await expect(client, order("BTCUSDT", "SELL", "0.010"), -4131)
    # a LIMIT order inside the band is not a market order: it rests
    await client.order(**order("BTCUSDT", "BUY", "0.010", "59000.0"))
    sim.apply_quote("BTCUSDT", D("59990"), D("5"), D("60010"), D("5"))
    await client.order(**order("BTCUSDT", "BUY", "0.010"))
    assert sim.engine.refusals.by_code[-4131] == 2
    assert sim.engine.refusals.filters == 2


async def test_an_order_beyond_the_leverage_brackets_position_cap_is_refused(
    make_sim: SimFactory, http: Any
) -> None:
    """-2027: at 125x the bracket allows 50,000 of notional; the open orders of the side and
    the position count, a reducing order does not."""
    sim = await make_sim(symbols=["BTCUSDT"], balances={"USDT": "1000000"})
    client = Client(http, sim)
    sim.apply_quote("BTCUSDT", D("59990"), D("500"), D("60010"), D("500"))
    await client.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 125})
    msg = await expect(client, order("BTCUSDT", "BUY", "0.900", "59000.0"), -2027)
    assert msg == "Exceeded the maximum allowable position at current leverage."
    await client.order(**order("BTCUSDT", "BUY", "0.500", "59000.0"))  # 30,000 resting
    assert await expect(client, order("BTCUSDT", "BUY", "0.400"), -2027)  # + 24,000 > 50,000
    await client.order(**order("BTCUSDT", "BUY", "0.300"))  # fills: position 18,000
    assert await expect(client, order("BTCUSDT", "BUY", "0.050", "59000.0"), -2027)
    await client.order(**order("BTCUSDT", "SELL", "0.300"))  # reduces: always allowed
    await client.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 20})
    await client.order(**order("BTCUSDT", "BUY", "0.900", "59000.0"))  # 5,000,000 at 20x
    assert sim.engine.refusals.by_code[-2027] == 3
    assert sim.engine.refusals.filters == 3
