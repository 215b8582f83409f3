"""A failed stream connection is described without the listenKey of its URL."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from plugins.binance.ws import _describe

LISTEN_KEY = "pqrsXYZ0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"


async def test_a_refused_handshake_is_described_without_the_listen_key() -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=400, text="no such listenKey")

    app = web.Application()
    app.router.add_get("/ws/{key}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await session.ws_connect(f"ws://127.0.0.1:{port}/ws/{LISTEN_KEY}")
    finally:
        await runner.cleanup()
    error = info.value
    assert LISTEN_KEY in str(error)  # aiohttp puts the URL in the message
    described = _describe(error)
    assert LISTEN_KEY not in described
    assert described.startswith("WSServerHandshakeError: 400")
    assert f"127.0.0.1:{port}/ws/***" in described
