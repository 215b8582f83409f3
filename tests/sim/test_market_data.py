"""Market-data REST and streams: klines that agree with the streamed trades, the book, tickers,
trades, funding, brackets, allOrders; Binance's shapes, weights and errors, over loopback."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sim_helpers import Client, collect

from framework.clock import ManualClock
from plugins.sim import SimExchange
from plugins.sim.candles import INTERVALS

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


async def get(http: aiohttp.ClientSession, sim: SimExchange, path: str, **params: Any) -> Any:
    """An unsigned GET that must succeed."""
    async with http.get(sim.rest_url + path, params={k: str(v) for k, v in params.items()}) as r:
        body = await r.json()
        assert r.status == 200, body
        return body


async def weight_of(http: aiohttp.ClientSession, sim: SimExchange, path: str, **params: Any) -> int:
    """The request weight ``path`` was charged (the used-weight header before and after)."""
    async with http.get(sim.rest_url + "/fapi/v1/ping") as r:
        before = int(r.headers["X-MBX-USED-WEIGHT-1M"])
    async with http.get(sim.rest_url + path, params={k: str(v) for k, v in params.items()}) as r:
        assert r.status == 200, await r.text()
        return int(r.headers["X-MBX-USED-WEIGHT-1M"]) - before


async def error(http: aiohttp.ClientSession, sim: SimExchange, path: str, **params: Any) -> Any:
    """A GET that must fail: ``(status, code)``."""
    async with http.get(sim.rest_url + path, params={k: str(v) for k, v in params.items()}) as r:
        body = await r.json()
        return r.status, body["code"]


def aggregate(trades: list[dict[str, Any]]) -> dict[str, Any]:
    """The candle the trades make: open, high, low, close, volume, trade count."""
    prices = [Decimal(t["p"]) for t in trades]
    return {
        "o": prices[0],
        "h": max(prices),
        "l": min(prices),
        "c": prices[-1],
        "v": sum((Decimal(t["q"]) for t in trades), Decimal(0)),
        "n": sum(t["l"] - t["f"] + 1 for t in trades),
    }


def row_candle(row: list[Any]) -> dict[str, Any]:
    """A klines row as ``aggregate`` makes candles."""
    return {
        "o": Decimal(row[1]),
        "h": Decimal(row[2]),
        "l": Decimal(row[3]),
        "c": Decimal(row[4]),
        "v": Decimal(row[5]),
        "n": row[8],
    }


async def test_history_trades_make_up_the_history_candles_and_page_as_binance(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    """The candle history's aggTrades, paged as Binance pages them (startTime/endTime within
    an hour, then fromId), add up to each history 1m candle: open, high, low, close, volume,
    taker buy volume and trade count; ids are consecutive and run on into the live ones."""
    clock = ManualClock(START)
    sim = await make_sim(clock=clock.time)
    now_minute = int(START * 1000) // 60_000 * 60_000
    hour_start = now_minute - 150 * 60_000
    hour_end = hour_start + 3_600_000 - 1
    params = {"symbol": "BTCUSDT", "startTime": hour_start, "endTime": hour_end, "limit": 1000}
    trades: list[dict[str, Any]] = []
    while True:
        page = await get(http, sim, "/fapi/v1/aggTrades", **params)
        inside = [t for t in page if t["T"] <= hour_end]
        trades += inside
        if len(page) < 1000 or len(inside) < len(page):
            break
        params = {"symbol": "BTCUSDT", "fromId": page[-1]["a"] + 1, "limit": 1000}
    assert len(trades) > 1000  # more than one page
    assert [t["a"] for t in trades] == list(range(trades[0]["a"], trades[0]["a"] + len(trades)))
    assert all(b["f"] == a["l"] + 1 for a, b in itertools.pairwise(trades))
    assert [t["T"] for t in trades] == sorted(t["T"] for t in trades)
    candles = await get(
        http,
        sim,
        "/fapi/v1/klines",
        symbol="BTCUSDT",
        interval="1m",
        startTime=hour_start,
        endTime=hour_end,
    )
    assert len(candles) == 60
    for row in candles:
        own = [t for t in trades if row[0] <= t["T"] <= row[6]]
        prices = [Decimal(t["p"]) for t in own]
        assert prices[0] == Decimal(row[1])  # open
        assert max(prices) == Decimal(row[2])
        assert min(prices) == Decimal(row[3])
        assert prices[-1] == Decimal(row[4])  # close
        assert sum(Decimal(t["q"]) for t in own) == Decimal(row[5])
        assert sum(t["l"] - t["f"] + 1 for t in own) == row[8]
        assert sum(Decimal(t["q"]) for t in own if not t["m"]) == Decimal(row[9])
        # the nearer extreme first, as the backtest's intra-candle path
        high, low = prices.index(max(prices)), prices.index(min(prices))
        nearer_high = max(prices) - prices[0] <= prices[0] - min(prices)
        assert (high < low) == nearer_high or high == low
    # The same trades again: made deterministically, not stored.
    again = await get(
        http, sim, "/fapi/v1/aggTrades", symbol="BTCUSDT", fromId=trades[5]["a"], limit=3
    )
    assert again == trades[5:8]
    # The history runs on into the live trades.
    await sim.move_price("BTCUSDT", "65010")
    latest = await get(http, sim, "/fapi/v1/aggTrades", symbol="BTCUSDT", limit=2)
    assert latest[1]["a"] == latest[0]["a"] + 1
    assert latest[1]["f"] == latest[0]["l"] + 1
    assert latest[0]["T"] < now_minute <= latest[1]["T"]
    too_long = {"startTime": hour_start, "endTime": hour_start + 3_600_001}
    assert await error(http, sim, "/fapi/v1/aggTrades", symbol="BTCUSDT", **too_long) == (
        400,
        -1127,
    )


async def test_klines_agree_with_the_trades_streamed(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    """Every candle REST lists and every closed kline pushed is made of exactly the aggTrades
    the stream sent in its interval (1m and 5m), over four minutes of moves."""
    clock = ManualClock(START)
    sim = await make_sim(clock=clock.time)
    streams = "btcusdt@aggTrade/btcusdt@kline_1m/btcusdt@kline_5m"
    rng = random.Random(3)
    price = Decimal("65000")
    moves = 240
    async with http.ws_connect(f"{sim.ws_url}/stream?streams={streams}") as ws:
        for _ in range(moves):
            price += Decimal(rng.randint(-40, 40)) / 10
            await sim.move_price("BTCUSDT", price)
            await clock.advance(1)
        await sim.move_price("BTCUSDT", price)  # closes the last whole minute
        msgs = await collect(
            ws, lambda m: sum(x["stream"] == "btcusdt@aggTrade" for x in m) == moves + 1
        )
    trades = [m["data"] for m in msgs if m["stream"] == "btcusdt@aggTrade"]
    closed = [
        m["data"]["k"]
        for m in msgs
        if m["stream"].startswith("btcusdt@kline") and m["data"]["k"]["x"]
    ]

    def in_window(open_ms: int, close_ms: int) -> list[dict[str, Any]]:
        return [t for t in trades if open_ms <= t["T"] <= close_ms]

    minute_rows = await get(
        http,
        sim,
        "/fapi/v1/klines",
        symbol="BTCUSDT",
        interval="1m",
        startTime=trades[0]["T"] - 60_000,
    )
    live = [r for r in minute_rows if in_window(r[0], r[6])]
    assert len(live) == 5  # the start's minute (from :20) and four more
    for row in live:
        assert row_candle(row) == aggregate(in_window(row[0], row[6])), row
        assert row[6] - row[0] == 59_999
    five = await get(http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="5m", limit=1)
    assert five[0][0] > START * 1000  # a 5m candle of live trades only
    assert row_candle(five[0]) == aggregate(in_window(five[0][0], five[0][6]))
    for k in closed:  # the pushed closing state of each candle agrees too
        pushed = {
            "o": Decimal(k["o"]),
            "h": Decimal(k["h"]),
            "l": Decimal(k["l"]),
            "c": Decimal(k["c"]),
            "v": Decimal(k["v"]),
            "n": k["n"],
        }
        if k["t"] >= trades[0]["T"] - 60_000 and (k["i"] == "1m" or k["t"] > START * 1000):
            assert pushed == aggregate(in_window(k["t"], k["T"])), k
    # four minutes closed, and the 5m candle the start fell in (seeded minutes and live trades)
    assert sorted(k["i"] for k in closed) == ["1m"] * 4 + ["5m"]


async def test_klines_have_a_seeded_past_for_every_interval(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    clock = ManualClock(START)
    sim = await make_sim(clock=clock.time)
    again = await make_sim(clock=clock.time)
    for interval in INTERVALS:
        rows = await get(
            http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval=interval, limit=1500
        )
        assert rows, interval
        for before, after in itertools.pairwise(rows):
            assert after[0] == before[6] + 1, interval  # contiguous
            assert Decimal(after[3]) <= Decimal(after[1]) <= Decimal(after[2])
        assert rows == await get(
            http, again, "/fapi/v1/klines", symbol="BTCUSDT", interval=interval, limit=1500
        ), "the same seed gives the same past"
    minutes = await get(http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=1500)
    assert len(minutes) == 1500
    assert minutes[-1][6] + 1 == START * 1000 - START * 1000 % 60_000  # up to the start's minute
    start_price = sim.paths["BTCUSDT"].quote().bid
    assert abs(Decimal(minutes[-1][4]) - start_price) <= Decimal("0.10")  # joins the live path
    hours = await get(http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1h", limit=1000)
    assert 25 <= len(hours) <= 26


async def test_klines_paging_weights_and_errors(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(clock=ManualClock(START).time)
    rows = await get(http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=10)
    assert len(rows) == 10
    older = await get(
        http,
        sim,
        "/fapi/v1/klines",
        symbol="BTCUSDT",
        interval="1m",
        limit=10,
        endTime=rows[0][0] - 1,
    )
    assert older[-1][6] + 1 == rows[0][0]
    first = await get(
        http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=3, startTime=rows[0][0]
    )
    assert first == rows[:3]
    continuous = await get(
        http,
        sim,
        "/fapi/v1/continuousKlines",
        pair="BTCUSDT",
        contractType="PERPETUAL",
        interval="1m",
        limit=10,
    )
    assert continuous == rows
    for limit, weight in ((99, 1), (100, 2), (499, 2), (500, 5), (1000, 5), (1001, 10)):
        got = await weight_of(
            http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=limit
        )
        assert got == weight, limit
    assert await weight_of(http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m") == 5
    assert await error(http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="2m") == (
        400,
        -1120,
    )
    assert await error(http, sim, "/fapi/v1/klines", symbol="BTCUSDT") == (400, -1102)
    assert await error(http, sim, "/fapi/v1/klines", symbol="DOGEUSDT", interval="1m") == (
        400,
        -1121,
    )
    assert await error(
        http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=1501
    ) == (400, -1130)
    assert await error(
        http, sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", startTime=2, endTime=1
    ) == (400, -1023)
    assert await error(
        http,
        sim,
        "/fapi/v1/continuousKlines",
        pair="BTCUSDT",
        contractType="NEXT_QUARTER",
        interval="1m",
    ) == (400, -4015)


async def test_depth_rest_and_partial_book_streams(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(updates_per_second=20)
    book = await get(http, sim, "/fapi/v1/depth", symbol="BTCUSDT", limit=5)
    assert set(book) == {"lastUpdateId", "E", "T", "bids", "asks"}
    assert len(book["bids"]) == len(book["asks"]) == 5
    bids = [Decimal(p) for p, _ in book["bids"]]
    asks = [Decimal(p) for p, _ in book["asks"]]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    full = await get(http, sim, "/fapi/v1/depth", symbol="BTCUSDT", limit=1000)
    assert len(full["bids"]) == 50  # the simulated book's depth
    for limit, weight in ((5, 2), (50, 2), (100, 5), (500, 10), (1000, 20)):
        assert await weight_of(http, sim, "/fapi/v1/depth", symbol="BTCUSDT", limit=limit) == weight
    assert await error(http, sim, "/fapi/v1/depth", symbol="BTCUSDT", limit=7) == (400, -1130)

    async with http.ws_connect(f"{sim.ws_url}/ws/btcusdt@depth5") as ws:
        raw = (await collect(ws, lambda m: len(m) >= 2))[-1]
    assert raw["e"] == "depthUpdate"
    assert raw["s"] == "BTCUSDT"
    assert {"E", "T", "U", "u", "pu", "b", "a"} <= set(raw)
    assert len(raw["b"]) == len(raw["a"]) == 5
    url = f"{sim.ws_url}/stream?streams=ethusdt@depth10@100ms/btcusdt@depth20@500ms"
    async with http.ws_connect(url) as ws:
        msgs = await collect(ws, lambda m: len({x["stream"] for x in m}) == 2)
    by_stream = {m["stream"]: m["data"] for m in msgs}
    assert len(by_stream["ethusdt@depth10@100ms"]["b"]) == 10
    assert len(by_stream["btcusdt@depth20@500ms"]["a"]) == 20


async def test_kline_stream_of_any_interval(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(updates_per_second=20)
    async with http.ws_connect(
        f"{sim.ws_url}/stream?streams=btcusdt@kline_1h/ethusdt@kline_1M"
    ) as ws:
        msgs = await collect(ws, lambda m: len({x["stream"] for x in m}) == 2)
    k = {m["stream"]: m["data"]["k"] for m in msgs}
    assert k["btcusdt@kline_1h"]["i"] == "1h"
    assert k["btcusdt@kline_1h"]["T"] - k["btcusdt@kline_1h"]["t"] == 3_599_999
    assert k["ethusdt@kline_1M"]["i"] == "1M"
    assert k["ethusdt@kline_1M"]["x"] is False


async def test_tickers_and_trades_are_the_streamed_market(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim()
    async with http.ws_connect(f"{sim.ws_url}/ws/btcusdt@aggTrade") as ws:
        for price in ("65010", "65020.5", "64990"):
            await sim.move_price("BTCUSDT", price)
        streamed = await collect(ws, lambda m: len(m) == 3)
    rows = (await get(http, sim, "/fapi/v1/aggTrades", symbol="BTCUSDT"))[-3:]
    assert rows == [{k: t[k] for k in ("a", "p", "q", "f", "l", "T", "m")} for t in streamed]
    assert (
        await get(http, sim, "/fapi/v1/aggTrades", symbol="BTCUSDT", fromId=rows[1]["a"])
        == rows[1:]
    )
    assert await get(http, sim, "/fapi/v1/aggTrades", symbol="BTCUSDT", limit=1) == rows[-1:]
    assert await weight_of(http, sim, "/fapi/v1/aggTrades", symbol="BTCUSDT") == 20

    price = await get(http, sim, "/fapi/v1/ticker/price", symbol="BTCUSDT")
    assert price["price"] == streamed[-1]["p"]
    assert set(price) == {"symbol", "price", "time"}
    every = await get(http, sim, "/fapi/v2/ticker/price")
    assert sorted(p["symbol"] for p in every) == ["BTCUSDT", "ETHUSDT"]
    book = await get(http, sim, "/fapi/v1/ticker/bookTicker", symbol="BTCUSDT")
    quote = sim.paths["BTCUSDT"].quote()
    assert (Decimal(book["bidPrice"]), Decimal(book["askPrice"])) == (quote.bid, quote.ask)
    day = await get(http, sim, "/fapi/v1/ticker/24hr", symbol="BTCUSDT")
    assert day["lastPrice"] == streamed[-1]["p"]
    assert day["lastId"] == streamed[-1]["l"]
    assert Decimal(day["lowPrice"]) <= Decimal("64990")
    assert Decimal(day["highPrice"]) >= Decimal("65020.5")
    assert day["closeTime"] - day["openTime"] <= 24 * 3_600_000
    assert Decimal(day["priceChange"]) == Decimal(day["lastPrice"]) - Decimal(day["openPrice"])
    assert isinstance(await get(http, sim, "/fapi/v1/ticker/24hr"), list)
    assert await weight_of(http, sim, "/fapi/v1/ticker/24hr", symbol="BTCUSDT") == 1
    assert await weight_of(http, sim, "/fapi/v1/ticker/24hr") == 40
    assert await weight_of(http, sim, "/fapi/v1/ticker/bookTicker") == 5

    mark = await get(http, sim, "/fapi/v1/premiumIndex", symbol="BTCUSDT")
    assert Decimal(mark["markPrice"]) == sim.engine.mark_price("BTCUSDT")
    assert mark["nextFundingTime"] % (8 * 3_600_000) == 0
    funding = await get(http, sim, "/fapi/v1/fundingRate", symbol="BTCUSDT")
    assert funding
    assert all(r["fundingTime"] % (8 * 3_600_000) == 0 for r in funding)
    assert {"symbol", "fundingRate", "fundingTime", "markPrice"} == set(funding[0])
    interest = await get(http, sim, "/fapi/v1/openInterest", symbol="BTCUSDT")
    assert set(interest) == {"openInterest", "symbol", "time"}
    assert await error(http, sim, "/fapi/v1/openInterest") == (400, -1102)


async def test_signed_leverage_brackets_and_all_orders(client: Client) -> None:
    status, body, _ = await client.call("GET", "/fapi/v1/leverageBracket", signed=False)
    assert (status, body["code"]) == (400, -1102)  # signed: timestamp missing
    one = await client.ok("GET", "/fapi/v1/leverageBracket", {"symbol": "BTCUSDT"})
    assert one["symbol"] == "BTCUSDT"
    brackets = one["brackets"]
    assert [b["bracket"] for b in brackets] == [1, 2, 3, 4]
    assert brackets[0]["notionalFloor"] == 0
    for low, high in itertools.pairwise(brackets):
        assert high["notionalFloor"] == low["notionalCap"]
        assert high["initialLeverage"] < low["initialLeverage"]
        # cum makes the maintenance margin continuous at the floor
        floor = high["notionalFloor"]
        assert floor * low["maintMarginRatio"] - low["cum"] == pytest.approx(
            floor * high["maintMarginRatio"] - high["cum"]
        )
    every = await client.ok("GET", "/fapi/v1/leverageBracket")
    assert sorted(e["symbol"] for e in every) == ["BTCUSDT", "ETHUSDT"]

    placed = await client.order(side="BUY", type="MARKET", quantity="0.010")
    rest = await client.order(
        side="BUY", type="LIMIT", price="60000", timeInForce="GTC", quantity="0.010"
    )
    orders = await client.ok("GET", "/fapi/v1/allOrders", {"symbol": "BTCUSDT"})
    assert [(o["orderId"], o["status"]) for o in orders] == [
        (placed["orderId"], "FILLED"),
        (rest["orderId"], "NEW"),
    ]
    later = await client.ok(
        "GET", "/fapi/v1/allOrders", {"symbol": "BTCUSDT", "orderId": rest["orderId"]}
    )
    assert [o["orderId"] for o in later] == [rest["orderId"]]
