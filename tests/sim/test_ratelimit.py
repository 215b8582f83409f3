"""Request weights, order counts, 429 then 418 with Retry-After."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from sim_helpers import Client

from plugins.sim.testing import SimFactory

BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"}


INTO_WINDOW = 1.0


def window_shift(into: float) -> float:
    """How far to shift the real clock to be ``into`` seconds past the start of a minute (and
    so of a 10-second window) now."""
    now = time.time()
    return (now // 60) * 60 + into - now


@pytest.fixture
async def client(http: aiohttp.ClientSession, make_sim: SimFactory) -> Client:
    """A client of a simulator whose clock is 1 s into a minute when the test begins: the
    weight and order windows are fixed (1 minute, 10 s), so a test's few requests, even
    seconds apart on a loaded machine, all fall in one window. The client signs on that clock."""
    shift = [0.0]
    sim = await make_sim(clock=lambda: time.time() + shift[0])
    shift[0] = window_shift(INTO_WINDOW)
    client = Client(http, sim)
    client.time_offset_ms = round(shift[0] * 1000)
    return client


async def test_weight_headers(client: Client) -> None:
    _, _, h1 = await client.call("GET", "/fapi/v1/time", signed=False)
    _, _, h2 = await client.call("GET", "/fapi/v3/account")
    _, _, h3 = await client.call("GET", "/fapi/v1/openOrders")
    _, _, h4 = await client.call("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"})
    used = [int(h["X-MBX-USED-WEIGHT-1M"]) for h in (h1, h2, h3, h4)]
    assert used == [1, 6, 46, 47]
    assert h4["x-mbx-used-weight"] == "47"


async def test_order_count_headers(client: Client) -> None:
    _, _, h1 = await client.call("POST", "/fapi/v1/order", BUY)
    _, _, h2 = await client.call("POST", "/fapi/v1/order", BUY)
    assert (h1["X-MBX-ORDER-COUNT-10S"], h1["X-MBX-ORDER-COUNT-1M"]) == ("1", "1")
    assert (h2["X-MBX-ORDER-COUNT-10S"], h2["X-MBX-ORDER-COUNT-1M"]) == ("2", "2")
    assert h2["X-MBX-USED-WEIGHT-1M"] == "0"


async def test_429_then_418(make_sim: Any, http: aiohttp.ClientSession) -> None:
    now = [1_700_000_000.0]
    sim = await make_sim(clock=lambda: now[0], weight_limit_1m=10, rate_limit_strikes=2)
    client = Client(http, sim)
    answers = []
    for _ in range(14):
        status, body, headers = await client.call("GET", "/fapi/v1/exchangeInfo", signed=False)
        answers.append(
            (status, body.get("code") if isinstance(body, dict) and "code" in body else None)
        )
        if status in (418, 429):
            assert int(headers["Retry-After"]) > 0
    assert answers[:10] == [(200, None)] * 10
    assert answers[10:12] == [(429, -1003), (429, -1003)]
    assert answers[12:] == [(418, -1003), (418, -1003)]
    _, body, headers = await client.call("GET", "/fapi/v1/time", signed=False)
    assert "IP banned until" in body["msg"]
    assert int(headers["Retry-After"]) == 120
    now[0] += 121
    status, _, _ = await client.call("GET", "/fapi/v1/time", signed=False)
    assert status == 200


async def test_429_retry_after_is_the_rest_of_the_minute(
    make_sim: Any, http: aiohttp.ClientSession
) -> None:
    sim = await make_sim(clock=lambda: 1_700_000_080.5, weight_limit_1m=1)
    client = Client(http, sim)
    await client.call("GET", "/fapi/v1/time", signed=False)
    status, _, headers = await client.call("GET", "/fapi/v1/time", signed=False)
    assert (status, headers["Retry-After"]) == (429, "20")


async def test_order_rate_limit(make_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_sim(order_limit_10s=2)
    client = Client(http, sim)
    bad = {**BUY, "quantity": "0"}
    for _ in range(2):
        status, body, _ = await client.call("POST", "/fapi/v1/order", bad)
        assert body["code"] == -4003
    status, body, headers = await client.call("POST", "/fapi/v1/order", bad)
    assert (status, body["code"]) == (429, -1015)
    assert int(headers["Retry-After"]) > 0
