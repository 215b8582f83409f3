"""Start/stop, the standalone banner, determinism, and that nothing leaks."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from typing import Any

import aiohttp
import pytest
from sim_helpers import Client, collect

from plugins.sim import SimExchange, SimSettings, serve_forever


async def test_urls_and_context_manager() -> None:
    async with SimExchange(SimSettings(updates_per_second=0)) as sim:
        assert sim.rest_url == f"http://127.0.0.1:{sim.port}"
        assert sim.ws_url == f"ws://127.0.0.1:{sim.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(sim.rest_url + "/fapi/v1/time") as resp:
                assert resp.status == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http:
            await http.get(sim.rest_url + "/fapi/v1/time")


async def test_stop_closes_every_socket_and_task() -> None:
    before = asyncio.all_tasks()
    sim = SimExchange(SimSettings(updates_per_second=20))
    await sim.start()
    async with aiohttp.ClientSession() as http:
        client = Client(http, sim)
        key = await client.listen_key()
        user = await http.ws_connect(f"{sim.ws_url}/ws/{key}")
        market = await http.ws_connect(f"{sim.ws_url}/stream?streams=btcusdt@bookTicker")
        await collect(market, lambda m: len(m) >= 2)
        await sim.stop()
        assert (await user.receive(timeout=3)).type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        )
        assert (await market.receive(timeout=3)).type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        )
        await user.close()
        await market.close()
    assert not sim.hub.connections
    await asyncio.sleep(0)
    leftover = {t for t in asyncio.all_tasks() - before if not t.done()} - {asyncio.current_task()}
    assert leftover == set()


async def test_serve_forever_prints_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    task = asyncio.create_task(serve_forever(SimSettings(updates_per_second=0), 0))
    for _ in range(500):
        if out.getvalue():
            break
        await asyncio.sleep(0.01)
    line = out.getvalue()
    match = re.fullmatch(
        r"tradeloop sim: rest=(http://127\.0\.0\.1:\d+) ws=(ws://127\.0\.0\.1:\d+) api_key=(\S+)\n",
        line,
    )
    assert match is not None, line
    assert match.group(3) == SimSettings().api_key
    async with aiohttp.ClientSession() as http:
        async with http.get(match.group(1) + "/fapi/v1/time") as resp:
            assert resp.status == 200
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_same_seed_same_prices_and_ids(make_sim: Any, http: aiohttp.ClientSession) -> None:
    runs = []
    for seed in (5, 5, 6):
        sim = await make_sim(seed=seed)
        path = sim.paths["BTCUSDT"]
        prices = [path.step().bid for _ in range(50)]
        client = Client(http, sim)
        key = await client.listen_key()
        order = await client.order(side="BUY", type="MARKET", quantity="0.010")
        runs.append((prices, key, order["clientOrderId"], order["avgPrice"]))
        await sim.stop()
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[2][0]
