"""Market streams (raw and combined), live subscriptions, pings and connection rotation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import websockets
from sim_helpers import assert_shape, collect, payload, receive_json

from plugins.sim import SimExchange
from plugins.sim.prices import PricePath, Tick, units_to_str
from plugins.sim.symbols import SYMBOL_CATALOGUE
from plugins.sim.testing import until


async def test_raw_streams(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(updates_per_second=50)
    async with http.ws_connect(f"{sim.ws_url}/ws/btcusdt@bookTicker") as ws:
        first = await receive_json(ws)
        assert_shape(first, payload("futures_ws_bookTicker.json"))
        assert first["s"] == "BTCUSDT"
        second = await receive_json(ws)
        assert second["u"] > first["u"]
    async with http.ws_connect(f"{sim.ws_url}/ws/ethusdt@aggTrade/ethusdt@kline_1m") as ws:
        msgs = await collect(ws, lambda m: {"aggTrade", "kline"} <= {x["e"] for x in m})
    agg = next(m for m in msgs if m["e"] == "aggTrade")
    kline = next(m for m in msgs if m["e"] == "kline")
    assert_shape(agg, payload("futures_ws_aggTrade.json"))
    assert_shape(kline, payload("futures_ws_kline.json"))
    assert kline["k"]["i"] == "1m"
    assert kline["k"]["T"] - kline["k"]["t"] == 59_999


async def test_combined_streams_envelope(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(updates_per_second=50)
    url = f"{sim.ws_url}/stream?streams=btcusdt@bookTicker/ETHUSDT@aggTrade/btcusdt@markPrice@1s"
    async with http.ws_connect(url) as ws:
        msgs = await collect(ws, lambda m: len({x["stream"] for x in m}) == 3)
    for msg in msgs:
        assert set(msg) == {"stream", "data"}
    streams = {m["stream"]: m["data"] for m in msgs}
    assert set(streams) == {"btcusdt@bookTicker", "ethusdt@aggTrade", "btcusdt@markPrice@1s"}
    mark = streams["btcusdt@markPrice@1s"]
    assert mark["e"] == "markPriceUpdate"
    assert {"E", "s", "p", "i", "P", "r", "T"} <= set(mark)


async def test_live_subscribe_and_unsubscribe(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(updates_per_second=50)
    async with http.ws_connect(f"{sim.ws_url}/ws") as ws:
        await ws.send_str(
            orjson.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 1}).decode()
        )
        msgs = await collect(ws, lambda m: any(x.get("e") == "aggTrade" for x in m))
        assert {"result": None, "id": 1} in msgs
        await ws.send_str('{"method": "LIST_SUBSCRIPTIONS", "id": 2}')
        listed = await collect(ws, lambda m: any(x.get("id") == 2 for x in m))
        assert {"result": ["btcusdt@aggTrade"], "id": 2} in listed
        await ws.send_str('{"method": "UNSUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 3}')
        await collect(ws, lambda m: any(x.get("id") == 3 for x in m))
        await ws.send_str("not json")
        error = await collect(ws, lambda m: any("error" in x for x in m))
        assert any(x.get("error", {}).get("code") == 3 for x in error)
        assert not sim.hub.market.get("btcusdt@aggTrade")


async def test_server_pings_and_client_pings(make_sim: Any) -> None:
    sim: SimExchange = await make_sim(ping_interval=0.1)
    async with websockets.connect(f"{sim.ws_url}/ws/btcusdt@bookTicker") as ws:
        pong = await ws.ping(b"hello")
        await asyncio.wait_for(pong, 3)
        conn = next(iter(sim.hub.connections))
        first = conn.last_ping
        await until(lambda: conn.last_ping > first)  # the server pings on its own
        # ...and the client's pong to one of those pings comes back
        await until(lambda: not conn.awaiting_pong and conn.last_pong > first)


async def test_unanswered_pings_close_the_connection(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(ping_interval=0.1, pong_timeout=0.2)
    async with http.ws_connect(f"{sim.ws_url}/ws/btcusdt@bookTicker", autoping=False) as ws:
        msg = await ws.receive(timeout=3)
        while msg.type is aiohttp.WSMsgType.PING:
            msg = await ws.receive(timeout=3)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == 1008


async def test_connection_rotation(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(connection_lifetime=0.3)
    async with http.ws_connect(f"{sim.ws_url}/ws/btcusdt@bookTicker") as ws:
        msg = await ws.receive(timeout=3)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == 1000
    assert sim.fault_counts()["disconnect_every"] == 0


async def test_many_updates_per_second(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(updates_per_second=2000, symbols=["BTCUSDT"])
    async with http.ws_connect(f"{sim.ws_url}/ws/btcusdt@bookTicker") as ws:
        msgs = await collect(ws, lambda m: len(m) >= 500, wait=10)
    ids = [m["u"] for m in msgs]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_fast_rates_batch_updates_per_wakeup(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    """At 2,000 updates/s the price loop wakes far less often than it sends (CPU follows the
    updates, not a sub-millisecond timer that uvloop would spin on)."""
    sim = await make_sim(updates_per_second=2000, symbols=["BTCUSDT"])
    async with http.ws_connect(f"{sim.ws_url}/ws/btcusdt@bookTicker") as ws:
        await collect(ws, lambda m: len(m) >= 1000, wait=10)
    sent = sim.paths["BTCUSDT"].agg_id - PricePath(SYMBOL_CATALOGUE["BTCUSDT"], 7, 1).agg_id
    assert sent >= 1000
    assert sim.market_wakeups * 10 <= sent


async def test_streamed_prices_follow_the_seeded_path(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    """Batching changes when updates leave, not which: the stream is the seeded path itself."""
    sim = await make_sim(seed=11, updates_per_second=2000, symbols=["BTCUSDT"])
    async with http.ws_connect(f"{sim.ws_url}/ws/btcusdt@bookTicker") as ws:
        msgs = await collect(ws, lambda m: len(m) >= 300, wait=10)
    streamed = [(m["b"], m["u"]) for m in msgs]
    fresh = PricePath(SYMBOL_CATALOGUE["BTCUSDT"], 11, 2000)
    expected = [(units_to_str(t.bid, fresh.pp), t.update_id) for t in iter_steps(fresh)]
    start = expected.index(streamed[0])
    assert expected[start : start + len(streamed)] == streamed


def iter_steps(path: PricePath, limit: int = 20_000) -> Iterator[Tick]:
    """The path's ticks, one step at a time."""
    for _ in range(limit):
        yield path.step()
