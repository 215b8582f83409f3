"""Request signing: FACTS.md §3 test vectors and every authentication error."""

from __future__ import annotations

import time

import pytest
from sim_helpers import Client

from plugins.sim.auth import sign, strip_signature


def test_spot_worked_example() -> None:
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    assert sign(secret, payload) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_futures_worked_example() -> None:
    payload = (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
        "&recvWindow=5000&timestamp=1591702613943"
    )
    secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
    assert sign(secret, payload) == (
        "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    )


def test_strip_signature() -> None:
    assert strip_signature("a=1&b=2&signature=ff") == ("a=1&b=2", "ff")
    assert strip_signature("") == ("", None)


async def test_signature_in_query_or_body(client: Client) -> None:
    await client.ok("GET", "/fapi/v3/account")
    await client.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 7}, in_body=True)


async def test_signature_over_query_plus_body(client: Client) -> None:
    """totalParams = query string concatenated with the body, signature last."""
    ts = int(time.time() * 1000)
    query = "symbol=BTCUSDT"
    body = f"leverage=9&timestamp={ts}"
    signature = sign(client.secret, query + body)
    resp = await client.http.post(
        f"{client.sim.rest_url}/fapi/v1/leverage?{query}",
        data=f"{body}&signature={signature}",
        headers={
            "X-MBX-APIKEY": client.key,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    async with resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["leverage"] == 9


async def test_uppercase_signature_is_accepted(client: Client) -> None:
    ts = int(time.time() * 1000)
    text = f"timestamp={ts}"
    signature = sign(client.secret, text).upper()
    resp = await client.http.get(
        f"{client.sim.rest_url}/fapi/v3/balance?{text}&signature={signature}",
        headers={"X-MBX-APIKEY": client.key},
    )
    async with resp:
        assert resp.status == 200


@pytest.mark.parametrize(
    ("kwargs", "params", "status", "code"),
    [
        ({"key": ""}, {}, 401, -2014),
        ({"key": "not-our-key"}, {}, 401, -2015),
        ({}, {"timestamp": 1}, 400, -1021),
        ({}, {"timestamp": 10**13 * 3}, 400, -1021),
        ({}, {"recvWindow": 60001}, 400, -1131),
        ({}, {"timestamp": "soon"}, 400, -1100),
    ],
)
async def test_auth_errors(
    client: Client, kwargs: dict[str, str], params: dict[str, object], status: int, code: int
) -> None:
    got, body, _ = await client.call("GET", "/fapi/v3/account", params, **kwargs)
    assert (got, body["code"]) == (status, code)
    assert isinstance(body["msg"], str)


async def test_wrong_signature(client: Client) -> None:
    client.secret = "wrong"
    status, body, _ = await client.call("GET", "/fapi/v3/account")
    assert (status, body) == (
        400,
        {"code": -1022, "msg": "Signature for this request is not valid."},
    )


async def test_unsigned_request(client: Client) -> None:
    status, body, _ = await client.call("GET", "/fapi/v3/account", signed=False)
    assert (status, body["code"]) == (400, -1102)
    assert "signature" in body["msg"]


async def test_missing_timestamp(client: Client) -> None:
    text = "symbol=BTCUSDT"
    resp = await client.http.get(
        f"{client.sim.rest_url}/fapi/v1/openOrders?{text}&signature={sign(client.secret, text)}",
        headers={"X-MBX-APIKEY": client.key},
    )
    async with resp:
        body = await resp.json()
        assert (resp.status, body["code"]) == (400, -1102)
        assert "timestamp" in body["msg"]


async def test_recv_window_is_honoured(client: Client) -> None:
    old = int(time.time() * 1000) - 20_000
    status, body, _ = await client.call("GET", "/fapi/v3/account", {"timestamp": old})
    assert (status, body["code"]) == (400, -1021)
    await client.ok("GET", "/fapi/v3/account", {"timestamp": old, "recvWindow": 30_000})


async def test_user_stream_endpoints_need_only_the_key(client: Client) -> None:
    status, body, _ = await client.call("POST", "/fapi/v1/listenKey", signed=False, key="")
    assert (status, body["code"]) == (401, -2014)
    assert await client.listen_key()
