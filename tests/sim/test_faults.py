"""Every injected fault, and its counter."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
from sim_helpers import Client, collect, drain, receive_json

from framework import ManualClock
from plugins.sim import SimExchange

FILLED = "FILLED"


async def user_ws(client: Client) -> aiohttp.ClientWebSocketResponse:
    key = await client.listen_key()
    return await client.http.ws_connect(f"{client.sim.ws_url}/ws/{key}")


async def until_counted(sim: SimExchange, name: str) -> None:
    for _ in range(500):
        if sim.fault_counts()[name]:
            return
        await asyncio.sleep(0.02)


def kinds(msgs: list[Any]) -> list[str]:
    return [m["e"] + ("/" + m["o"]["x"] if m["e"] == "ORDER_TRADE_UPDATE" else "") for m in msgs]


NATURAL = ["ORDER_TRADE_UPDATE/NEW", "TRADE_LITE", "ACCOUNT_UPDATE", "ORDER_TRADE_UPDATE/TRADE"]


async def market_buy(client: Client) -> Any:
    return await client.order(side="BUY", type="MARKET", quantity="0.010")


async def test_no_faults_by_default(client: Client, sim: SimExchange) -> None:
    async with await user_ws(client) as ws:
        await market_buy(client)
        msgs = await collect(ws, lambda m: len(m) >= 4)
    assert kinds(msgs) == NATURAL
    assert set(sim.fault_counts().values()) == {0}


async def test_drop_user_events(client: Client, sim: SimExchange) -> None:
    sim.set_faults(drop_user_events=1.0)
    async with await user_ws(client) as ws:
        await market_buy(client)
        assert await drain(ws, 0.3) == []
    assert sim.fault_counts()["drop_user_events"] == 4


async def test_duplicate_user_events(client: Client, sim: SimExchange) -> None:
    sim.set_faults(duplicate_user_events=1.0)
    async with await user_ws(client) as ws:
        await market_buy(client)
        msgs = await collect(ws, lambda m: len(m) >= 8)
    assert kinds(msgs) == [k for k in NATURAL for _ in range(2)]
    assert sim.fault_counts()["duplicate_user_events"] == 4


async def test_reorder_user_events(client: Client, sim: SimExchange) -> None:
    sim.set_faults(reorder_user_events=1.0)
    async with await user_ws(client) as ws:
        await market_buy(client)
        msgs = await collect(ws, lambda m: len(m) >= 4)
    assert kinds(msgs) == [NATURAL[1], NATURAL[0], NATURAL[3], NATURAL[2]]
    assert sim.fault_counts()["reorder_user_events"] == 2


async def test_delay_user_events(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(user_event_delay=0.2)
    client = Client(http, sim)
    sim.set_faults(delay_user_events=1.0)
    async with await user_ws(client) as ws:
        await market_buy(client)
        msgs = await collect(ws, lambda m: len(m) >= 4)
    assert sorted(kinds(msgs)) == sorted(NATURAL)
    assert sim.fault_counts()["delay_user_events"] == 4


async def test_disconnect_every(client: Client, sim: SimExchange) -> None:
    sim.set_faults(disconnect_every=0.2)
    async with await user_ws(client) as ws:
        msg = await ws.receive(timeout=3)
        assert msg.type in (
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
            aiohttp.WSMsgType.CLOSE,
        )
        assert msg.type is not aiohttp.WSMsgType.CLOSE or msg.data != 1000
    assert sim.fault_counts()["disconnect_every"] >= 1


async def test_expire_listen_key_every(client: Client, sim: SimExchange) -> None:
    sim.set_faults(expire_listen_key_every=0.2)
    async with await user_ws(client) as ws:
        event = await receive_json(ws)
    assert event["e"] == "listenKeyExpired"
    assert sim.fault_counts()["expire_listen_key_every"] >= 1
    status, body, _ = await client.call("PUT", "/fapi/v1/listenKey", signed=False)
    assert (status, body["code"]) == (400, -1125)


async def test_stale_after(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(updates_per_second=50)
    sim.set_faults(stale_after=0.2)
    url = f"{sim.ws_url}/ws/btcusdt@bookTicker"
    async with http.ws_connect(url, autoping=False) as ws:
        await receive_json(ws)
        await asyncio.wait_for(until_counted(sim, "stale_after"), 3)
        await drain(ws, 0.1)
        assert await drain(ws, 0.3) == []
        await ws.ping(b"alive?")
        msg = await ws.receive(timeout=3)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"alive?")
    assert sim.fault_counts()["stale_after"] == 1


def in_step(client: Client, clock: ManualClock) -> None:
    """Sign with the simulator's (manual) clock."""
    client.time_offset_ms = int((clock.time() - time.time()) * 1000)


async def test_user_stream_down_while_rest_works(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    """The user-data connection is dropped and refused for the set time (simulator clock);
    REST and market streams work; events of that time are lost; then it is accepted again."""
    clock = ManualClock()
    sim = await make_sim(clock=clock.time)
    client = Client(http, sim)
    in_step(client, clock)
    ws = await user_ws(client)
    market = await http.ws_connect(f"{sim.ws_url}/ws/btcusdt@bookTicker")
    sim.set_faults(user_stream_down=60.0)
    msg = await ws.receive(timeout=3)
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)
    await ws.close()
    key = await client.listen_key()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(f"{sim.ws_url}/ws/{key}")
    assert refused.value.status == 503
    assert (await market_buy(client))["status"] == FILLED  # REST works
    assert not market.closed
    await clock.advance(59.9)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await http.ws_connect(f"{sim.ws_url}/ws/{key}")
    await clock.advance(0.1)
    in_step(client, clock)
    async with await user_ws(client) as back:
        await market_buy(client)
        assert kinds(await collect(back, lambda m: len(m) >= 4)) == NATURAL
    assert sim.fault_counts()["user_stream_down"] >= 3  # one dropped, two refused
    await market.close()


async def test_silent_user_after(make_sim: Any, http: aiohttp.ClientSession) -> None:
    """After the set time (simulator clock) the user-data connection delivers nothing but
    still answers pings; a new connection delivers again."""
    clock = ManualClock()
    sim = await make_sim(clock=clock.time)
    client = Client(http, sim)
    in_step(client, clock)
    sim.set_faults(silent_user_after=10.0)
    key = await client.listen_key()
    async with http.ws_connect(f"{sim.ws_url}/ws/{key}", autoping=False) as ws:
        await market_buy(client)
        assert kinds(await collect(ws, lambda m: len(m) >= 4)) == NATURAL
        await clock.advance(10.0)
        in_step(client, clock)
        await asyncio.wait_for(until_counted(sim, "silent_user_after"), 3)
        await market_buy(client)
        assert await drain(ws, 0.3) == []
        await ws.ping(b"alive?")
        msg = await ws.receive(timeout=3)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"alive?")
        async with await user_ws(client) as fresh:
            await market_buy(client)
            assert kinds(await collect(fresh, lambda m: len(m) >= 4)) == NATURAL
        assert await drain(ws, 0.2) == []
    assert sim.fault_counts()["silent_user_after"] == 1


async def test_rest_error_rate(client: Client, sim: SimExchange) -> None:
    sim.set_faults(rest_error_rate=1.0)
    statuses = set()
    for _ in range(6):
        status, body, headers = await client.call(
            "POST",
            "/fapi/v1/order",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"},
        )
        statuses.add(status)
        assert body["code"] == -1001
        assert "X-MBX-USED-WEIGHT-1M" in headers
    assert statuses <= {500, 502, 503}
    assert sim.fault_counts()["rest_error_rate"] == 6
    assert sim.engine.trades == []
    sim.set_faults(rest_error_rate=0)
    await client.ok("GET", "/fapi/v1/time", signed=False)


async def test_unknown_order_outcome(client: Client, sim: SimExchange) -> None:
    sim.set_faults(unknown_order_outcome_rate=1.0)
    for _ in range(8):
        status, body, _ = await client.call(
            "POST",
            "/fapi/v1/order",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"},
        )
        assert (status, body["code"]) == (503, -1000)
        assert "Unknown error" in body["msg"]
    counts = sim.fault_counts()
    assert counts["unknown_order_outcome_rate"] == 8
    executed = counts["unknown_order_outcome_executed"]
    assert 0 < executed < 8
    assert len({t.order_id for t in sim.engine.trades}) == executed
    assert sim.truth().positions["BTCUSDT"].amount == executed * Decimal("0.010")


async def test_rate_limit_burst(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(rate_limit_strikes=2)
    client = Client(http, sim)
    sim.set_faults(rate_limit_burst=1.0)
    statuses = []
    for _ in range(4):
        status, body, headers = await client.call("GET", "/fapi/v1/time", signed=False)
        statuses.append(status)
        assert body["code"] == -1003
        assert int(headers["Retry-After"]) > 0
    assert statuses == [429, 429, 418, 418]
    assert sim.fault_counts()["rate_limit_burst"] == 1


async def test_clock_skew(client: Client, sim: SimExchange) -> None:
    sim.set_faults(clock_skew_ms=-20_000)
    status, body, _ = await client.call("GET", "/fapi/v3/account")
    assert (status, body["code"]) == (400, -1021)
    server = (await client.ok("GET", "/fapi/v1/time", signed=False))["serverTime"]
    client.time_offset_ms = server - int(time.time() * 1000)
    await client.ok("GET", "/fapi/v3/account")
    assert sim.fault_counts()["clock_skew_ms"] >= 3


async def test_faults_from_settings_and_validation(make_sim: Any) -> None:
    sim = await make_sim(faults={"drop_user_events": 0.25})
    assert sim.faults.drop_user_events == 0.25
    with pytest.raises(msgspec.ValidationError):
        sim.set_faults(drop_user_events=2)
    with pytest.raises(msgspec.ValidationError):
        sim.set_faults(no_such_fault=1)
    assert sim.faults.drop_user_events == 0.25


async def test_fault_draws_are_deterministic(make_sim: Any, http: aiohttp.ClientSession) -> None:
    seen = []
    for _ in range(2):
        sim = await make_sim(seed=99)
        client = Client(http, sim)
        sim.set_faults(drop_user_events=0.5, duplicate_user_events=0.3)
        async with await user_ws(client) as ws:
            for _ in range(3):
                await market_buy(client)
            msgs = await drain(ws, 0.3)
        seen.append((kinds(msgs), sim.fault_counts()))
        await sim.stop()
    assert seen[0] == seen[1]


async def test_late_order_is_hidden_from_order_queries_for_a_while(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    now = [time.time()]
    sim = await make_sim(clock=lambda: now[0], late_order_seconds=2.0)
    client = Client(http, sim)
    sim.set_faults(late_order_rate=1.0)
    quote = sim.engine.quote("BTCUSDT")
    placed = await client.order(
        side="BUY", type="LIMIT", quantity="0.010", price=str(quote.bid), timeInForce="GTC"
    )
    sim.set_faults(late_order_rate=0.0)  # only that order is late
    lookup = {"symbol": "BTCUSDT", "origClientOrderId": placed["clientOrderId"]}

    for path in ("/fapi/v1/order", "/fapi/v1/openOrder"):
        status, body, _ = await client.call("GET", path, lookup)
        assert (status, body["code"]) == (400, -2013)
    assert await client.ok("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}) == []
    assert len(sim.truth().open_orders) == 1  # it exists all along

    now[0] += 2.0
    assert (await client.ok("GET", "/fapi/v1/order", lookup))["orderId"] == placed["orderId"]
    assert (await client.ok("GET", "/fapi/v1/openOrder", lookup))["orderId"] == placed["orderId"]
    assert len(await client.ok("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"})) == 1
    counts = sim.fault_counts()
    assert (counts["late_order_rate"], counts["late_order_hidden"]) == (1, 3)


async def test_late_order_is_hidden_from_its_first_lookups(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(late_order_seconds=0.0, late_order_queries=2)
    client = Client(http, sim)
    sim.set_faults(late_order_rate=1.0)
    placed = await market_buy(client)  # filled at once, and still not shown
    lookup = {"symbol": "BTCUSDT", "origClientOrderId": placed["clientOrderId"]}
    for _ in range(2):
        status, body, _ = await client.call("GET", "/fapi/v1/order", lookup)
        assert (status, body["code"]) == (400, -2013)
    shown = await client.ok("GET", "/fapi/v1/order", lookup)
    assert (shown["orderId"], shown["status"]) == (placed["orderId"], FILLED)
    assert sim.fault_counts()["late_order_hidden"] == 2
