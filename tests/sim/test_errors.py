"""Binance error codes and statuses; malformed input never yields a 500."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_helpers import Client

from plugins.sim import SimExchange

BTC = {"symbol": "BTCUSDT"}


def limit(
    price: Any, qty: str = "0.010", side: str = "BUY", tif: str = "GTC", **more: Any
) -> dict[str, Any]:
    return {
        **BTC,
        "side": side,
        "type": "LIMIT",
        "timeInForce": tif,
        "quantity": qty,
        "price": str(price),
        **more,
    }


async def expect(
    client: Client, method: str, path: str, params: dict[str, Any], status: int, code: int
) -> str:
    got, body, _ = await client.call(method, path, params)
    assert (got, body.get("code")) == (status, code), body
    assert set(body) == {"code", "msg"}
    return str(body["msg"])


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"symbol": "DOGEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}, -1121),
        ({**BTC, "side": "BUY", "type": "MARKET"}, -1102),
        ({**BTC, "type": "MARKET", "quantity": "0.01"}, -1102),
        ({**BTC, "side": "UP", "type": "MARKET", "quantity": "0.01"}, -1117),
        ({**BTC, "side": "BUY", "type": "ICEBERG", "quantity": "0.01"}, -1116),
        ({**BTC, "side": "BUY", "type": "STOP_MARKET", "quantity": "0.01"}, -4120),
        (
            {**BTC, "side": "BUY", "type": "MARKET", "quantity": "0.01", "positionSide": "LONG"},
            -4061,
        ),
        ({**BTC, "side": "BUY", "type": "MARKET", "quantity": "0.01", "price": "1"}, -1106),
        ({**BTC, "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000"}, -1102),
        ({**BTC, "side": "BUY", "type": "LIMIT", "quantity": "0.01", "timeInForce": "GTC"}, -1102),
        (
            {
                **BTC,
                "side": "BUY",
                "type": "LIMIT",
                "quantity": "0.01",
                "price": "6e4",
                "timeInForce": "GTC",
            },
            -1100,
        ),
        ({**BTC, "side": "BUY", "type": "MARKET", "quantity": "-1"}, -1100),
        ({**BTC, "side": "BUY", "type": "MARKET", "quantity": "0"}, -4003),
        ({**BTC, "side": "BUY", "type": "MARKET", "quantity": "0.0101"}, -1111),
        ({**BTC, "side": "BUY", "type": "MARKET", "quantity": "0.001"}, -4164),
        ({**BTC, "side": "BUY", "type": "MARKET", "quantity": "5"}, -2019),
        (
            {**BTC, "side": "SELL", "type": "MARKET", "quantity": "0.01", "reduceOnly": "true"},
            -2022,
        ),
        (
            {**BTC, "side": "BUY", "type": "MARKET", "quantity": "0.01", "reduceOnly": "maybe"},
            -1100,
        ),
        (
            {
                **BTC,
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.01",
                "newClientOrderId": "bad id!",
            },
            -1100,
        ),
        (
            {
                **BTC,
                "side": "BUY",
                "type": "LIMIT",
                "quantity": "0.01",
                "price": "60000",
                "timeInForce": "DAY",
            },
            -1115,
        ),
    ],
)
async def test_new_order_rejections(client: Client, params: dict[str, Any], code: int) -> None:
    await expect(client, "POST", "/fapi/v1/order", params, 400, code)


async def test_price_filters(client: Client, sim: SimExchange) -> None:
    mark = sim.engine.mark_price("BTCUSDT")
    await expect(client, "POST", "/fapi/v1/order", limit("60000.05"), 400, -4014)
    await expect(client, "POST", "/fapi/v1/order", limit(round(mark * 2)), 400, -4016)
    await expect(client, "POST", "/fapi/v1/order", limit(round(mark / 2), side="SELL"), 400, -4024)


async def test_post_only_and_fok(client: Client, sim: SimExchange) -> None:
    quote = sim.engine.quote("BTCUSDT")
    await expect(client, "POST", "/fapi/v1/order", limit(quote.ask, tif="GTX"), 400, -5022)
    await expect(
        client, "POST", "/fapi/v1/order", limit(quote.ask, qty="100", tif="FOK"), 400, -5021
    )
    assert sim.truth().open_orders == []


async def test_duplicate_client_order_id(client: Client, sim: SimExchange) -> None:
    price = sim.engine.quote("BTCUSDT").bid - 50
    await client.order(**limit(price, newClientOrderId="dup"))
    await expect(client, "POST", "/fapi/v1/order", limit(price, newClientOrderId="dup"), 400, -4116)


async def test_cancel_and_query_unknown_orders(client: Client) -> None:
    await expect(client, "DELETE", "/fapi/v1/order", {**BTC, "orderId": 1}, 400, -2013)
    await expect(client, "GET", "/fapi/v1/order", {**BTC, "origClientOrderId": "nope"}, 400, -2013)
    await expect(client, "GET", "/fapi/v1/order", BTC, 400, -1102)
    filled = await client.order(side="BUY", type="MARKET", quantity="0.010")
    await expect(
        client, "DELETE", "/fapi/v1/order", {**BTC, "orderId": filled["orderId"]}, 400, -2011
    )
    await expect(
        client, "GET", "/fapi/v1/openOrder", {**BTC, "orderId": filled["orderId"]}, 400, -2013
    )


async def test_listen_key_errors(client: Client) -> None:
    status, body, _ = await client.call("PUT", "/fapi/v1/listenKey", signed=False)
    assert (status, body["code"]) == (400, -1125)
    status, body, _ = await client.call("DELETE", "/fapi/v1/listenKey", signed=False)
    assert (status, body["code"]) == (400, -1125)
    key = await client.listen_key()
    status, body, _ = await client.call(
        "PUT", "/fapi/v1/listenKey", {"listenKey": key + "x"}, signed=False
    )
    assert (status, body["code"]) == (400, -1125)


async def test_other_parameter_errors(client: Client) -> None:
    await expect(client, "POST", "/fapi/v1/leverage", {**BTC, "leverage": 126}, 400, -4028)
    await expect(client, "POST", "/fapi/v1/leverage", {"symbol": "NOPE", "leverage": 2}, 400, -1121)
    await expect(client, "GET", "/fapi/v1/userTrades", {}, 400, -1102)
    await expect(client, "GET", "/fapi/v1/userTrades", {**BTC, "limit": 5000}, 400, -1130)
    both = {**BTC, "fromId": 1, "startTime": 1}
    await expect(client, "GET", "/fapi/v1/userTrades", both, 400, -1128)
    await expect(client, "GET", "/fapi/v1/income", {"startTime": "yesterday"}, 400, -1100)
    await expect(client, "DELETE", "/fapi/v1/allOpenOrders", {}, 400, -1102)


async def test_unknown_paths_and_methods(client: Client) -> None:
    status, body, _ = await client.call("GET", "/fapi/v9/nothing", signed=False)
    assert (status, body["code"]) == (404, -5000)
    status, body, _ = await client.call("PATCH", "/fapi/v1/order", signed=False)
    assert (status, body["code"]) == (405, -5000)
    status, body, _ = await client.call("GET", "/", signed=False)
    assert status == 404


async def test_oversized_body_is_answered(client: Client) -> None:
    resp = await client.http.post(
        client.sim.rest_url + "/fapi/v1/order",
        data="x=" + "a" * 200_000,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-MBX-APIKEY": client.key},
    )
    async with resp:
        assert resp.status == 413
        assert (await resp.json())["code"] == -1000


PATHS = [
    "/fapi/v1/order",
    "/fapi/v3/account",
    "/fapi/v1/listenKey",
    "/fapi/v1/userTrades",
    "/fapi/v1/income",
    "/fapi/v1/leverage",
    "/fapi/v1/openOrders",
    "/fapi/v1/allOpenOrders",
    "/fapi/v1/time",
]
NAMES = [
    "symbol",
    "side",
    "type",
    "quantity",
    "price",
    "timeInForce",
    "orderId",
    "origClientOrderId",
    "reduceOnly",
    "limit",
    "leverage",
    "startTime",
    "fromId",
    "newClientOrderId",
    "recvWindow",
    "listenKey",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "BTCUSDT",
            "BUY",
            "SELL",
            "LIMIT",
            "MARKET",
            "GTC",
            "IOC",
            "true",
            "0",
            "0.010",
            "-1",
            "1e9",
            "",
            "null",
            "99999999999999999999999",
            "NaN",
            "Infinity",
            "65000.10",
        ]
    ),
    st.text(max_size=30),
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=st.sampled_from(PATHS),
    params=st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=6),
    signed=st.booleans(),
)
async def test_malformed_requests_never_yield_500(
    client: Client, method: str, path: str, params: dict[str, str], signed: bool
) -> None:
    status, body, headers = await client.call(method, path, params, signed=signed)
    assert status < 500, body
    assert "X-MBX-USED-WEIGHT-1M" in headers
    if status != 200:
        assert isinstance(body["code"], int)
        assert isinstance(body["msg"], str)


async def test_garbage_bytes_never_yield_500(client: Client) -> None:
    for raw in (b"\xff\xfe=\x00&&&=", b"%%%%", b"symbol=%ZZ&timestamp=1&signature=zz", b"a" * 1000):
        resp = await client.http.post(
            client.sim.rest_url + "/fapi/v1/order?" + raw.decode("latin-1"),
            data=raw,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-MBX-APIKEY": client.key,
            },
        )
        async with resp:
            assert resp.status < 500
            assert "code" in await resp.json(content_type=None)
