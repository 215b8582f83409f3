"""Helpers for the simulator tests: a signing REST client, payload shapes, stream readers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import yarl

from plugins.sim import SimExchange
from plugins.sim.auth import sign
from tests.support import PAYLOADS

# Fast settings for tests: static prices unless a test asks for a price path.
FAST = {"updates_per_second": 0.0, "ping_interval": 60.0}


def payload(name: str) -> Any:
    """A reference payload from tests/payloads."""
    return orjson.loads((PAYLOADS / name).read_bytes())


def assert_shape(
    actual: Any, expected: Any, *, ignore: frozenset[str] = frozenset(), path: str = "$"
) -> None:
    """Each key of ``expected`` is in ``actual`` with a value of the same JSON type, recursively."""
    if expected is None:
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if key in ignore:
                continue
            assert key in actual, f"{path}.{key} missing from {sorted(actual)}"
            assert_shape(actual[key], value, ignore=ignore, path=f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected an array, got {actual!r}"
        if expected and actual:
            for item in actual:
                assert_shape(item, expected[0], ignore=ignore, path=f"{path}[]")
    else:
        assert type(actual) is type(expected), (
            f"{path}: {type(actual).__name__} {actual!r} vs {type(expected).__name__} {expected!r}"
        )


class Client:
    """A minimal Binance REST client: signs with HMAC-SHA256 like python-binance and ccxt do."""

    def __init__(self, http: aiohttp.ClientSession, sim: SimExchange) -> None:
        self.http = http
        self.sim = sim
        self.key = sim.settings.api_key
        self.secret = sim.settings.api_secret
        self.time_offset_ms = 0

    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        signed: bool = True,
        key: str | None = None,
        in_body: bool = False,
    ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        """Send a request; returns (status, decoded JSON, headers)."""
        params = dict(params or {})
        headers = {"X-MBX-APIKEY": self.key if key is None else key}
        if signed:
            params.setdefault("timestamp", int(time.time() * 1000) + self.time_offset_ms)
        text = urlencode({k: str(v) for k, v in params.items()})
        if signed:
            text += ("&" if text else "") + "signature=" + sign(self.secret, text)
        url = self.sim.rest_url + path
        if in_body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            resp = await self.http.request(method, url, data=text, headers=headers)
        else:
            # encoded=True: send exactly the bytes that were signed.
            target = yarl.URL(url + ("?" + text if text else ""), encoded=True)
            resp = await self.http.request(method, target, headers=headers)
        async with resp:
            body = await resp.read()
            return resp.status, orjson.loads(body), resp.headers

    async def ok(
        self, method: str, path: str, params: dict[str, Any] | None = None, **kw: Any
    ) -> Any:
        """Send a request that must succeed and return its JSON."""
        status, body, _ = await self.call(method, path, params, **kw)
        assert status == 200, (status, body)
        return body

    async def order(self, **params: Any) -> Any:
        """Place an order that must be accepted."""
        params.setdefault("symbol", "BTCUSDT")
        params.setdefault("newOrderRespType", "RESULT")
        return await self.ok("POST", "/fapi/v1/order", params)

    async def listen_key(self) -> str:
        """POST /fapi/v1/listenKey."""
        body = await self.ok("POST", "/fapi/v1/listenKey", signed=False)
        return str(body["listenKey"])


async def receive_json(ws: aiohttp.ClientWebSocketResponse, wait: float = 3.0) -> Any:
    """Next text message as JSON."""
    msg = await ws.receive(timeout=wait)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return orjson.loads(msg.data)


async def collect(
    ws: aiohttp.ClientWebSocketResponse,
    until: Callable[[list[Any]], bool],
    wait: float = 5.0,
) -> list[Any]:
    """Receive JSON messages until ``until(messages)`` holds."""
    messages: list[Any] = []

    async def run() -> None:
        while not until(messages):
            messages.append(await receive_json(ws, wait))

    await asyncio.wait_for(run(), wait)
    return messages


async def drain(ws: aiohttp.ClientWebSocketResponse, quiet: float = 0.3) -> list[Any]:
    """Receive JSON messages until none arrives for ``quiet`` seconds."""
    messages: list[Any] = []
    while True:
        try:
            msg = await ws.receive(timeout=quiet)
        except TimeoutError:
            return messages
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return messages
        messages.append(orjson.loads(msg.data))
