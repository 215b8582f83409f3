"""Every REST response against the reference payloads (keys and JSON types)."""

from __future__ import annotations

import filecmp

import pytest
from sim_helpers import Client, assert_shape, payload

from plugins.sim import SimExchange
from tests.support import PAYLOADS, SHARED_PAYLOADS

TRAILING_ONLY = frozenset({"activatePrice", "priceRate"})


def test_payload_copies_match_the_shared_originals() -> None:
    if not SHARED_PAYLOADS.is_dir():
        pytest.skip("../shared/binance/payloads is not present on this machine")
    copies = sorted(p.name for p in PAYLOADS.iterdir())
    assert copies == sorted(p.name for p in SHARED_PAYLOADS.iterdir())
    for name in copies:
        assert filecmp.cmp(PAYLOADS / name, SHARED_PAYLOADS / name, shallow=False), name


async def test_time(client: Client, sim: SimExchange) -> None:
    body = await client.ok("GET", "/fapi/v1/time", signed=False)
    assert_shape(body, payload("futures_rest_time.json"))
    assert abs(body["serverTime"] - sim.server_ms()) < 5000


async def test_ping(client: Client) -> None:
    assert await client.ok("GET", "/fapi/v1/ping", signed=False) == {}


async def test_exchange_info(client: Client) -> None:
    body = await client.ok("GET", "/fapi/v1/exchangeInfo", signed=False)
    assert {s["symbol"] for s in body["symbols"]} == {"BTCUSDT", "ETHUSDT"}
    limits = {
        (r["rateLimitType"], r["interval"], r["intervalNum"]): r["limit"]
        for r in body["rateLimits"]
    }
    assert limits[("REQUEST_WEIGHT", "MINUTE", 1)] == 2400
    assert limits[("ORDERS", "MINUTE", 1)] == 1200
    btc = next(s for s in body["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.10"
    assert filters["LOT_SIZE"]["stepSize"] == "0.001"
    assert filters["MIN_NOTIONAL"]["notional"] == "100"
    assert btc["pricePrecision"] == 2
    assert btc["quantityPrecision"] == 3


async def test_account_v3_flat_and_with_position(client: Client) -> None:
    flat = await client.ok("GET", "/fapi/v3/account")
    assert flat["positions"] == []
    assert flat["totalWalletBalance"] == "10000.00000000"
    assert_shape(flat, payload("futures_rest_account_v3_single_asset.json"))
    await client.order(side="BUY", type="MARKET", quantity="0.010")
    body = await client.ok("GET", "/fapi/v3/account")
    assert_shape(body, payload("futures_rest_account_v3_single_asset.json"))
    assert [p["symbol"] for p in body["positions"]] == ["BTCUSDT"]
    assert body["positions"][0]["positionAmt"] == "0.010"


async def test_account_v2(client: Client) -> None:
    await client.order(side="SELL", type="MARKET", quantity="0.010")
    body = await client.ok("GET", "/fapi/v2/account")
    assert_shape(body, payload("futures_rest_account_v2_fixture.json"))
    assert_shape(body, payload("futures_rest_account_v2_multi_assets.json"))
    assert {p["symbol"] for p in body["positions"]} == {"BTCUSDT", "ETHUSDT"}


@pytest.mark.parametrize("version", ["v2", "v3"])
async def test_balance(client: Client, version: str) -> None:
    body = await client.ok("GET", f"/fapi/{version}/balance")
    assert_shape(body, payload("futures_rest_balance_v3.json"))
    assert body[0]["asset"] == "USDT"
    assert body[0]["balance"] == "10000.00000000"


async def test_position_risk_v3(client: Client) -> None:
    assert await client.ok("GET", "/fapi/v3/positionRisk") == []
    await client.order(side="BUY", type="MARKET", quantity="0.010")
    body = await client.ok("GET", "/fapi/v3/positionRisk")
    assert_shape(body, payload("futures_rest_positionRisk_v3_oneway.json"))
    assert body[0]["positionSide"] == "BOTH"
    one = await client.ok("GET", "/fapi/v3/positionRisk", {"symbol": "ETHUSDT"})
    assert one == []


async def test_position_risk_v2(client: Client) -> None:
    body = await client.ok("GET", "/fapi/v2/positionRisk")
    assert_shape(body, payload("futures_rest_positionRisk_v2_oneway.json"))
    assert len(body) == 2
    assert body[0]["marginType"] == "cross"


async def test_position_mode(client: Client) -> None:
    assert await client.ok("GET", "/fapi/v1/positionSide/dual") == {"dualSidePosition": False}


async def test_new_order_ack_and_result(client: Client, sim: SimExchange) -> None:
    ack = await client.order(side="BUY", type="MARKET", quantity="0.010", newOrderRespType="ACK")
    assert_shape(ack, payload("futures_rest_newOrder_response.json"))
    assert ack["status"] == "NEW"
    assert ack["executedQty"] == "0.000"
    result = await client.order(side="BUY", type="MARKET", quantity="0.010")
    assert_shape(result, payload("futures_rest_newOrder_response.json"))
    assert result["status"] == "FILLED"
    assert result["executedQty"] == "0.010"


async def test_open_orders_query_and_cancel(client: Client, sim: SimExchange) -> None:
    bid = sim.engine.quote("BTCUSDT").bid
    placed = await client.order(
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price=str(bid - 100),
        newClientOrderId="shape-1",
    )
    assert placed["status"] == "NEW"
    orders = await client.ok("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"})
    assert_shape(orders, payload("futures_rest_openOrders_response.json"), ignore=TRAILING_ONLY)
    assert [o["clientOrderId"] for o in orders] == ["shape-1"]
    everything = await client.ok("GET", "/fapi/v1/openOrders")
    assert everything == orders
    by_client = await client.ok(
        "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "shape-1"}
    )
    assert_shape(
        by_client, payload("futures_rest_openOrders_response.json")[0], ignore=TRAILING_ONLY
    )
    one = await client.ok(
        "GET", "/fapi/v1/openOrder", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}
    )
    assert one == by_client
    canceled = await client.ok(
        "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}
    )
    assert_shape(canceled, payload("futures_rest_cancelOrder_response.json"), ignore=TRAILING_ONLY)
    assert canceled["status"] == "CANCELED"
    assert await client.ok("GET", "/fapi/v1/openOrders") == []
    after = await client.ok(
        "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]}
    )
    assert after["status"] == "CANCELED"
    assert after["updateTime"] >= after["time"]


async def test_cancel_all(client: Client, sim: SimExchange) -> None:
    bid = sim.engine.quote("BTCUSDT").bid
    for i in range(3):
        await client.order(
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.010",
            price=str(bid - 10 * (i + 1)),
        )
    body = await client.ok("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"})
    assert body == {"code": 200, "msg": "The operation of cancel all open order is done."}
    assert sim.truth().open_orders == []


async def test_listen_key_responses(client: Client) -> None:
    key = await client.listen_key()
    assert_shape({"listenKey": key}, payload("futures_rest_listenKey_post_response.json"))
    assert len(key) == 64
    put = await client.ok("PUT", "/fapi/v1/listenKey", signed=False)
    assert_shape(put, payload("futures_rest_listenKey_put_response.json"))
    assert put["listenKey"] == key
    assert await client.listen_key() == key
    assert await client.ok("DELETE", "/fapi/v1/listenKey", signed=False) == {}


async def test_user_trades_and_income(client: Client) -> None:
    await client.order(side="BUY", type="MARKET", quantity="0.020")
    await client.order(side="SELL", type="MARKET", quantity="0.020")
    trades = await client.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
    assert len(trades) == 2
    expected = {
        "buyer": True,
        "commission": "",
        "commissionAsset": "",
        "id": 0,
        "maker": False,
        "orderId": 0,
        "price": "",
        "qty": "",
        "quoteQty": "",
        "realizedPnl": "",
        "side": "",
        "positionSide": "",
        "symbol": "",
        "time": 0,
    }
    assert_shape(trades, [expected])
    limited = await client.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "limit": 1})
    assert limited == trades[-1:]
    income = await client.ok("GET", "/fapi/v1/income")
    assert_shape(
        income,
        [
            {
                "symbol": "",
                "incomeType": "",
                "income": "",
                "asset": "",
                "info": "",
                "time": 0,
                "tranId": 0,
                "tradeId": "",
            }
        ],
    )
    kinds = {row["incomeType"] for row in income}
    assert "COMMISSION" in kinds
    fees = await client.ok("GET", "/fapi/v1/income", {"incomeType": "COMMISSION"})
    assert len(fees) == 2


async def test_leverage(client: Client, sim: SimExchange) -> None:
    body = await client.ok("POST", "/fapi/v1/leverage", {"symbol": "ETHUSDT", "leverage": 5})
    assert body == {"leverage": 5, "maxNotionalValue": "5000000", "symbol": "ETHUSDT"}
    assert sim.truth().positions["ETHUSDT"].leverage == 5
