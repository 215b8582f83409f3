"""listenKey lifecycle and user-data events after orders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sim_helpers import Client, assert_shape, collect, drain, payload, receive_json

from plugins.sim import SimExchange

OTU_TRAILING_ONLY = frozenset({"AP", "cr"})
BTC = {"symbol": "BTCUSDT"}


@pytest.fixture
async def rich(make_sim: Any, http: aiohttp.ClientSession) -> Client:
    """A client on an account big enough to sweep several book levels."""
    return Client(http, await make_sim(balances={"USDT": "10000000"}))


def of(messages: list[Any], kind: str) -> list[Any]:
    return [m for m in messages if m.get("e") == kind]


async def user_ws(
    client: Client, combined: bool = False
) -> tuple[str, aiohttp.ClientWebSocketResponse]:
    key = await client.listen_key()
    url = (
        f"{client.sim.ws_url}/stream?streams={key}" if combined else f"{client.sim.ws_url}/ws/{key}"
    )
    return key, await client.http.ws_connect(url)


async def test_market_order_events(client: Client, sim: SimExchange) -> None:
    _, ws = await user_ws(client)
    async with ws:
        order = await client.order(side="BUY", type="MARKET", quantity="0.010")
        msgs = await collect(ws, lambda m: any(x.get("o", {}).get("X") == "FILLED" for x in m))
    updates = of(msgs, "ORDER_TRADE_UPDATE")
    assert [(u["o"]["x"], u["o"]["X"]) for u in updates] == [("NEW", "NEW"), ("TRADE", "FILLED")]
    for u in updates:
        assert_shape(u, payload("futures_ws_ORDER_TRADE_UPDATE.json"), ignore=OTU_TRAILING_ONLY)
        assert u["o"]["i"] == order["orderId"]
    account = of(msgs, "ACCOUNT_UPDATE")
    assert len(account) == 1
    assert account[0]["a"]["m"] == "ORDER"
    assert_shape(account[0], payload("futures_ws_ACCOUNT_UPDATE.json"))
    lite = of(msgs, "TRADE_LITE")
    assert_shape(lite[0], payload("futures_ws_TRADE_LITE.json"))
    # E/T agree with REST updateTime
    assert updates[-1]["T"] == order["updateTime"]
    assert updates[-1]["E"] >= updates[-1]["T"]
    position = (await client.ok("GET", "/fapi/v3/positionRisk"))[0]
    assert account[0]["T"] == position["updateTime"]
    assert account[0]["a"]["P"][0]["pa"] == position["positionAmt"]
    assert (
        account[0]["a"]["B"][0]["wb"] == (await client.ok("GET", "/fapi/v3/balance"))[0]["balance"]
    )


async def test_partial_fill_then_expired_ioc(rich: Client) -> None:
    client, sim = rich, rich.sim
    quote = sim.engine.quote("BTCUSDT")
    qty = quote.ask_qty + Decimal("0.5")
    _, ws = await user_ws(client)
    async with ws:
        order = await client.order(
            side="BUY", type="LIMIT", timeInForce="IOC", quantity=str(qty), price=str(quote.ask)
        )
        msgs = await collect(ws, lambda m: any(x.get("o", {}).get("X") == "EXPIRED" for x in m))
    assert order["status"] == "EXPIRED"
    statuses = [(u["o"]["x"], u["o"]["X"]) for u in of(msgs, "ORDER_TRADE_UPDATE")]
    assert statuses == [("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("EXPIRED", "EXPIRED")]
    assert of(msgs, "ORDER_TRADE_UPDATE")[-1]["o"]["er"] == "2"


async def test_market_order_partial_fills_across_levels(rich: Client) -> None:
    client, sim = rich, rich.sim
    quote = sim.engine.quote("BTCUSDT")
    _, ws = await user_ws(client)
    async with ws:
        await client.order(side="SELL", type="MARKET", quantity=str(quote.bid_qty + Decimal("1")))
        msgs = await collect(ws, lambda m: any(x.get("o", {}).get("X") == "FILLED" for x in m))
    trades = [u["o"] for u in of(msgs, "ORDER_TRADE_UPDATE") if u["o"]["x"] == "TRADE"]
    assert [t["X"] for t in trades] == ["PARTIALLY_FILLED", "FILLED"]
    assert Decimal(trades[1]["L"]) < Decimal(trades[0]["L"])


async def test_resting_order_fills_as_maker_when_price_moves(
    client: Client, sim: SimExchange
) -> None:
    bid = sim.engine.quote("BTCUSDT").bid
    _, ws = await user_ws(client)
    async with ws:
        order = await client.order(
            side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price=str(bid - 20)
        )
        await sim.move_price("BTCUSDT", bid - 40)
        msgs = await collect(ws, lambda m: any(x.get("o", {}).get("X") == "FILLED" for x in m))
    fill = of(msgs, "ORDER_TRADE_UPDATE")[-1]["o"]
    assert fill["m"] is True
    assert fill["L"] == f"{bid - 20:.2f}"
    query = await client.ok("GET", "/fapi/v1/order", {**BTC, "orderId": order["orderId"]})
    assert query["status"] == "FILLED"
    assert query["updateTime"] == of(msgs, "ORDER_TRADE_UPDATE")[-1]["T"]


async def test_cancel_event_and_no_account_update(client: Client, sim: SimExchange) -> None:
    bid = sim.engine.quote("BTCUSDT").bid
    _, ws = await user_ws(client, combined=True)
    async with ws:
        order = await client.order(
            side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price=str(bid - 20)
        )
        await client.ok("DELETE", "/fapi/v1/order", {**BTC, "orderId": order["orderId"]})
        msgs = await collect(ws, lambda m: len(m) >= 2)
        msgs += await drain(ws, 0.2)
    assert all(set(m) == {"stream", "data"} for m in msgs)
    data = [m["data"] for m in msgs]
    assert [d["o"]["X"] for d in data] == ["NEW", "CANCELED"]
    assert of(data, "ACCOUNT_UPDATE") == []


async def test_reduce_only_and_closing_realizes_pnl(client: Client, sim: SimExchange) -> None:
    _, ws = await user_ws(client)
    async with ws:
        await client.order(side="BUY", type="MARKET", quantity="0.010")
        quote = sim.engine.quote("BTCUSDT")
        await sim.move_price("BTCUSDT", quote.mark + 500)
        await client.order(side="SELL", type="MARKET", quantity="0.010", reduceOnly="true")
        msgs = await collect(
            ws, lambda m: sum(u["o"]["X"] == "FILLED" for u in of(m, "ORDER_TRADE_UPDATE")) >= 2
        )
    closing = of(msgs, "ACCOUNT_UPDATE")[-1]["a"]["P"][0]
    assert closing["pa"] == "0.000"
    assert Decimal(closing["cr"]) > 0
    last = of(msgs, "ORDER_TRADE_UPDATE")[-1]["o"]
    assert last["R"] is True
    assert Decimal(last["rp"]) > 0
    assert sim.truth().positions["BTCUSDT"].amount == 0


async def test_leverage_change_event(client: Client) -> None:
    _, ws = await user_ws(client)
    async with ws:
        await client.ok("POST", "/fapi/v1/leverage", {**BTC, "leverage": 10})
        event = await receive_json(ws)
    assert_shape(event, payload("futures_ws_ACCOUNT_CONFIG_UPDATE_leverage.json"))
    assert event["ac"] == {"s": "BTCUSDT", "l": 10}


async def test_listen_key_lifecycle(client: Client, sim: SimExchange) -> None:
    key = await client.listen_key()
    assert await client.listen_key() == key
    assert (await client.ok("PUT", "/fapi/v1/listenKey", signed=False))["listenKey"] == key
    await client.ok("DELETE", "/fapi/v1/listenKey", signed=False)
    status, body, _ = await client.call("PUT", "/fapi/v1/listenKey", signed=False)
    assert (status, body["code"]) == (400, -1125)
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.http.ws_connect(f"{sim.ws_url}/ws/{key}")
    assert info.value.status == 400
    assert await client.listen_key() != key


async def test_listen_key_expires_with_event(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(listen_key_validity=0.3)
    client = Client(http, sim)
    key = await client.listen_key()
    async with http.ws_connect(f"{sim.ws_url}/ws/{key}") as ws:
        event = await receive_json(ws)
        assert_shape(event, payload("futures_ws_listenKeyExpired.json"))
        assert event == {"e": "listenKeyExpired", "E": event["E"], "listenKey": key}
        await client.order(side="BUY", type="MARKET", quantity="0.010")
        assert await drain(ws, 0.2) == []
    status, body, _ = await client.call("PUT", "/fapi/v1/listenKey", signed=False)
    assert (status, body["code"]) == (400, -1125)


async def test_keepalive_extends_validity(make_sim: Any, http: aiohttp.ClientSession) -> None:
    now = [1_700_000_000.0]
    sim = await make_sim(clock=lambda: now[0], listen_key_validity=60)
    client = Client(http, sim)
    client.time_offset_ms = int(now[0] * 1000) - int(__import__("time").time() * 1000)
    key = await client.listen_key()
    now[0] += 50
    client.time_offset_ms += 50_000
    await client.ok("PUT", "/fapi/v1/listenKey", signed=False)
    now[0] += 50
    assert sim.listen_keys.valid(sim.server_ms()) == key
    now[0] += 11
    assert sim.listen_keys.valid(sim.server_ms()) is None


async def test_routed_private_url(client: Client, sim: SimExchange) -> None:
    key = await client.listen_key()
    async with client.http.ws_connect(f"{sim.ws_url}/private/ws?listenKey={key}") as ws:
        await client.order(side="BUY", type="MARKET", quantity="0.010")
        msgs = await collect(ws, lambda m: len(of(m, "ORDER_TRADE_UPDATE")) >= 2)
    assert msgs


async def test_in_process_place_order(sim: SimExchange) -> None:
    result = await sim.place_order("ETHUSDT", "BUY", "0.100")
    assert result["status"] == "FILLED"
    truth = sim.truth()
    assert truth.positions["ETHUSDT"].amount == Decimal("0.100")
    assert truth.balances["USDT"].wallet_balance < Decimal(10000)


async def test_the_hub_counts_the_user_events_it_queued(client: Client, sim: SimExchange) -> None:
    """``hub.user_sent``: one per message and live connection (what a client must take), none
    for a connection that went stale."""
    assert sim.hub.user_sent == 0
    _, ws = await user_ws(client)
    async with ws:
        await client.order(side="BUY", type="MARKET", quantity="0.010")
        msgs = await collect(ws, lambda m: any(x.get("o", {}).get("X") == "FILLED" for x in m))
        msgs += await drain(ws)
        assert sim.hub.user_sent == len(msgs)
        for conn in sim.hub.connections:
            conn.stale = True  # the ``stale_after`` fault: nothing more is sent
        await client.order(side="SELL", type="MARKET", quantity="0.010")
        assert sim.hub.user_sent == len(msgs)
