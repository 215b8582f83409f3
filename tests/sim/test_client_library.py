"""An unmodified Binance client library (ccxt's ``binanceusdm``), only its base URLs pointed at
the simulator, loads markets, reads tickers, the book, candles, balances and positions, and
trades, over loopback."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from plugins.sim import SimExchange
from plugins.sim.config import DEMO_API_KEY, DEMO_API_SECRET

SYMBOL = "BTC/USDT:USDT"


def point_at(exchange: Any, sim: SimExchange) -> None:
    """Replace the base URLs of every REST API the USD-M client uses (nothing else)."""
    api = exchange.urls["api"]
    for name in list(api):
        if name.startswith("fapiPublic") or name.startswith("fapiPrivate"):
            version = name.removeprefix("fapiPublic").removeprefix("fapiPrivate").lower() or "v1"
            api[name] = f"{sim.rest_url}/fapi/{version}"
    api["sapi"] = f"{sim.rest_url}/sapi/v1"


@pytest.fixture
async def usdm(sim: SimExchange) -> AsyncIterator[Any]:
    """``ccxt.binanceusdm`` with the demo key, pointed at the simulator."""
    exchange = ccxt.binanceusdm({"apiKey": DEMO_API_KEY, "secret": DEMO_API_SECRET})
    point_at(exchange, sim)
    try:
        yield exchange
    finally:
        await exchange.close()


async def test_ccxt_loads_markets_reads_the_market_and_trades(usdm: Any, sim: SimExchange) -> None:
    markets = await usdm.load_markets()
    assert {SYMBOL, "ETH/USDT:USDT"} <= set(markets)
    market = markets[SYMBOL]
    assert market["id"] == "BTCUSDT"
    assert market["precision"]["price"] == 0.1
    assert market["limits"]["cost"]["min"] == 100

    quote = sim.paths["BTCUSDT"].quote()
    ticker = await usdm.fetch_ticker(SYMBOL)
    assert Decimal(str(ticker["last"])) in (quote.bid, quote.ask)
    book = await usdm.fetch_order_book(SYMBOL, 5)
    assert Decimal(str(book["bids"][0][0])) == quote.bid
    assert Decimal(str(book["asks"][0][0])) == quote.ask
    assert len(book["bids"]) == 5
    candles = await usdm.fetch_ohlcv(SYMBOL, "1h", limit=24)
    assert len(candles) == 24
    assert all(b[0] - a[0] == 3_600_000 for a, b in itertools.pairwise(candles))
    funding = await usdm.fetch_funding_rate(SYMBOL)
    assert funding["fundingRate"] == 0.0001
    tiers = await usdm.fetch_leverage_tiers([SYMBOL])
    assert tiers[SYMBOL][0]["maxLeverage"] == 125

    balance = await usdm.fetch_balance()
    assert balance["USDT"]["total"] == 10_000
    assert await usdm.fetch_positions([SYMBOL]) == []

    bought = await usdm.create_order(SYMBOL, "market", "buy", 0.01)
    assert bought["status"] == "closed"
    assert bought["filled"] == 0.01
    resting = await usdm.create_order(SYMBOL, "limit", "buy", 0.01, 60_000)
    assert [o["id"] for o in await usdm.fetch_open_orders(SYMBOL)] == [resting["id"]]
    canceled = await usdm.cancel_order(resting["id"], SYMBOL)
    assert canceled["status"] == "canceled"
    history = await usdm.fetch_orders(SYMBOL)
    assert [(o["id"], o["status"]) for o in history] == [
        (bought["id"], "closed"),
        (resting["id"], "canceled"),
    ]

    (position,) = await usdm.fetch_positions([SYMBOL])
    truth = sim.truth().positions["BTCUSDT"]
    assert position["side"] == "long"
    assert Decimal(str(position["contracts"])) == truth.amount == Decimal("0.010")
    assert Decimal(str(position["entryPrice"])) == truth.entry_price
    balance = await usdm.fetch_balance()
    assert Decimal(str(balance["USDT"]["free"])) == sim.truth().balances["USDT"].available_balance
