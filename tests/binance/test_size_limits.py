"""Size limits (issue 13 item 4): WebSocket messages and REST bodies are bounded, large REST
answers are decoded off the event loop, and a refusal names the endpoint, never a secret."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from loguru import logger

from framework.types import StreamState
from plugins.binance import BinanceConfig
from plugins.binance.checks import rest_order_problem
from plugins.binance.decode import RestOrder
from plugins.binance.errors import ResponseTooLarge
from plugins.binance.rest import RestClient
from plugins.binance.rows import Rows
from plugins.binance.signing import HmacSigner
from plugins.sim.testing import fast_binance_config

from .conftest import HarnessFactory
from .helpers import until

KIB = 1024
SMALL = fast_binance_config(max_frame_bytes=64 * KIB, max_body_bytes=64 * KIB)


def test_the_defaults_leave_room_for_the_largest_real_answers() -> None:
    config = BinanceConfig()
    assert config.max_body_bytes >= 8 * 1024 * KIB  # all open orders / exchangeInfo: a few MB
    assert config.max_frame_bytes >= 512 * KIB  # the largest user-data events: under 100 kB
    assert config.decode_in_thread_bytes < config.max_body_bytes


async def test_a_websocket_message_over_the_limit_is_refused_and_the_stream_resyncs(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(config=SMALL, updates_per_second=0, market_data=False)
    user = h.connector.user
    assert user is not None
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    try:
        frame = b'{"e":"ACCOUNT_UPDATE","E":1,"pad":"' + b"a" * (200 * KIB) + b'"}'
        h.sim.hub.publish_user(user.listen_key, frame)
        await until(lambda: user.runner.stats.too_large == 1)
        await until(lambda: user.runner.stats.connects >= 2)
    finally:
        logger.remove(sink)
    assert h.connector.stats()["stream"]["too_large"] == 1
    assert h.connector.counters.account_updates == 0  # nothing of it was decoded
    resynced = [s for s in h.statuses if s.state is StreamState.CONNECTED and s.needs_resync]
    assert resynced  # the reconnect asks for a reconcile: events may have been lost
    [line] = [m for m in lines if "max_frame_bytes" in m]
    assert "user_data" in line
    assert user.listen_key not in line


async def test_a_rest_body_over_the_limit_is_refused_naming_the_endpoint(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(config=SMALL, updates_per_second=0, market_data=False)
    row = {
        "symbol": "BTCUSDT",
        "orderId": 1,
        "clientOrderId": "a",
        "side": "BUY",
        "type": "LIMIT",
        "status": "NEW",
        "price": "1",
        "origQty": "1",
        "executedQty": "0",
    }
    big = orjson.dumps([row] * 2000)  # ~300 kB
    assert len(big) > SMALL.max_body_bytes
    h.sim.tamper_rest = lambda _m, path, result: big if path == "/fapi/v1/openOrders" else result
    sent = h.connector.rest.stats.requests
    with pytest.raises(ResponseTooLarge) as caught:
        await h.connector.orders.open_orders("BTCUSDT")
    message = str(caught.value)
    assert "GET /fapi/v1/openOrders" in message
    assert "max_body_bytes" in message
    for secret in ("signature", "timestamp=", "symbol=", h.sim.settings.api_secret):
        assert secret not in message
    assert h.connector.rest.stats.requests == sent + 1  # refused, not retried
    assert h.connector.stats()["rest"]["too_large"] == 1


class EndlessBody:
    """A Binance-like server whose exchangeInfo body never ends (chunked, no length)."""

    def __init__(self) -> None:
        self.sent = 0
        self.cut_off = asyncio.Event()

    async def time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": 1_700_000_000_000})

    async def endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"[" + b'"xxxxxxxxxxxxxxxx",' * 4000
        try:
            while self.sent < 64 * 1024 * KIB:  # stops at 64 MB if nobody hangs up
                await response.write(chunk)
                self.sent += len(chunk)
        except (ConnectionError, RuntimeError):
            self.cut_off.set()
        return response


@pytest.fixture
async def endless() -> AsyncIterator[tuple[EndlessBody, str]]:
    server = EndlessBody()
    app = web.Application()
    app.router.add_get("/fapi/v1/time", server.time)
    app.router.add_get("/fapi/v1/exchangeInfo", server.endless)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_an_endless_body_is_cut_off_at_the_limit(
    endless: tuple[EndlessBody, str],
) -> None:
    server, url = endless
    rest = RestClient(base_url=url, api_key="k", signer=HmacSigner("s"), config=SMALL)
    await rest.start()
    try:
        with pytest.raises(ResponseTooLarge) as caught:
            await rest.request("GET", "/fapi/v1/exchangeInfo", type=list[Any])
    finally:
        await rest.close()
    assert "GET /fapi/v1/exchangeInfo" in str(caught.value)
    async with asyncio.timeout(10):
        await server.cut_off.wait()  # the client hung up: it did not read on
    assert server.sent < 64 * 1024 * KIB


async def test_a_large_answer_is_decoded_off_the_event_loop(make_harness: HarnessFactory) -> None:
    config = fast_binance_config(decode_in_thread_bytes=KIB)
    h = await make_harness(config=config, updates_per_second=0, market_data=False)
    rows = [
        {
            "symbol": "BTCUSDT",
            "orderId": i,
            "clientOrderId": f"c{i}",
            "side": "BUY",
            "type": "LIMIT",
            "status": "NEW",
            "price": "100",
            "origQty": "1",
            "executedQty": "0",
        }
        for i in range(1, 41)
    ]
    h.sim.tamper_rest = lambda _m, path, result: rows if path == "/fapi/v1/openOrders" else result
    rest = h.connector.rest
    before = rest.stats.thread_decodes  # the start's exchangeInfo is large too
    reader = rest.rows(RestOrder, rest_order_problem)
    threads: list[int] = []

    def decode(body: bytes) -> Rows[RestOrder]:
        threads.append(threading.get_ident())
        return reader(body)

    got = await rest.request(
        "GET", "/fapi/v1/openOrders", type=Rows[RestOrder], signed=True, decode=decode
    )
    assert len(got.good) == 40
    assert threads
    assert threads[0] != threading.get_ident()  # not the event loop's thread
    assert rest.stats.thread_decodes == before + 1
    orders = await h.connector.orders.open_orders()  # the connector's own path, same way
    assert len(orders) == 40
    assert rest.stats.thread_decodes == before + 2
