"""The dashboard at ``/`` in real headless Chromium, against a bot on the simulator.

Chromium loads the page over loopback from the http plugin; the page's script polls the JSON
API and fills the DOM, which ``--dump-dom`` prints once the virtual-time budget is spent.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from framework.clock import ManualClock
from plugins.sim.exchange import SimExchange
from plugins.sim.testing import SimBotFactory, until
from tests.ops.test_http_sim import get, start
from tests.reconciliation.helpers import Probe

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def flags(profile: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=3000",
    ]


async def chromium(profile: Path, *args: str) -> str:
    """Run Chromium without blocking the loop (the bot under test serves it); its stdout."""
    assert CHROMIUM is not None
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *flags(profile),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0
    return out.decode()


def text_of(dom: str, element_id: str) -> str:
    """The text of the element with ``element_id`` in the dumped DOM."""
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', dom)
    assert found is not None, f"#{element_id} not in the page"
    return found.group(1)


def cells(dom: str, tbody: str) -> list[str]:
    """The cell texts of one table body (badges included)."""
    found = re.search(rf'<tbody id="{tbody}">(.*?)</tbody>', dom, re.S)
    assert found is not None, f"#{tbody} not in the page"
    return re.findall(r">([^<>]+)<", found.group(1))


async def test_the_dashboard_shows_live_values_and_follows_a_fill(
    sim_bot: SimBotFactory,
    sim_exchange: SimExchange,
    client: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    bot, _, _, base = await start(sim_bot, extra={"strategy:probe": Probe()})
    status, body = await get(client, base + "/")
    assert status == 200
    assert "<title>tradeloop</title>" in body
    _, balances = await get(client, base + "/api/balances")
    (usdt,) = [b for b in balances["balances"] if b["asset"] == "USDT"]

    dom = await chromium(tmp_path / "profile", "--dump-dom", base + "/")
    assert text_of(dom, "wallet-USDT") == usdt["wallet_balance"]
    assert text_of(dom, "health") == "HEALTHY"
    assert text_of(dom, "ready") == "READY"
    assert text_of(dom, "fill-count") == "0"
    assert "flat: no position" in cells(dom, "positions")
    assert "CONNECTED" in cells(dom, "streams")
    assert cells(dom, "strategies")[:2] == ["probe", "RUNNING"]
    assert "no open order" in cells(dom, "orders")
    assert "IN SYNC" in cells(dom, "reconciles")

    cache = bot.ctx.cache
    quote = sim_exchange.engine.quote("ETHUSDT")
    await sim_exchange.place_order("BTCUSDT", "BUY", "0.010")
    await sim_exchange.place_order(
        "ETHUSDT", "SELL", "0.02", order_type="LIMIT", price=quote.ask + 10
    )
    await until(lambda: cache.fill_count >= 1 and bool(cache.positions and cache.open_orders))
    _, balances = await get(client, base + "/api/balances")
    (after,) = [b for b in balances["balances"] if b["asset"] == "USDT"]
    assert after["wallet_balance"] != usdt["wallet_balance"]  # the fee was paid

    dom = await chromium(tmp_path / "profile", "--dump-dom", base + "/")
    assert text_of(dom, "wallet-USDT") == after["wallet_balance"]
    assert text_of(dom, "fill-count") == str(cache.fill_count)
    assert text_of(dom, "fees-USDT") == format(cache.fees["USDT"], "f")
    # exact decimals in plain digits (the API sends e.g. "0E-8"), never through a float
    for symbol, pnl in cache.realized_pnl.items():
        assert text_of(dom, f"pnl-{symbol}") == format(abs(pnl) if pnl == 0 else pnl, "f")
    position = cells(dom, "positions")
    assert "BTCUSDT" in position
    assert str(cache.positions[("BTCUSDT", "BOTH")].amount) in position
    (order,) = cache.open_orders.values()
    assert cells(dom, "orders")[:3] == ["ETHUSDT", "SELL", "LIMIT"]
    assert str(order.price) in cells(dom, "orders")
    assert text_of(dom, "order-count") == "1"
    fills = cells(dom, "fills")
    assert "BUY" in fills
    assert "0.010" in fills

    shot = tmp_path / "dashboard.png"
    await chromium(
        tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1100", base + "/"
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def svg_samples(dom: str) -> int:
    found = re.search(r'id="equity-chart"[^>]*data-samples="(\d+)"', dom) or re.search(
        r'data-samples="(\d+)"[^>]*id="equity-chart"', dom
    )
    assert found is not None, "#equity-chart has no samples"
    return int(found.group(1))


async def test_the_dashboard_charts_the_days_equity_and_shows_a_kill_switch_halt(
    sim_bot: SimBotFactory,
    sim_exchange: SimExchange,
    manual_clock: ManualClock,
    client: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    bot, http, _, base = await start(
        sim_bot, overrides={"kill_switch": {"max_open_notional": "1000"}}, equity_every=10.0
    )
    await until(lambda: bot.ctx.kill_switch.risk is not None)
    for _ in range(3):  # three samples of the day's equity, ten seconds apart
        await manual_clock.advance(10.0)
    assert len(http.equity.samples) >= 2

    dom = await chromium(tmp_path / "profile", "--dump-dom", base + "/")
    assert svg_samples(dom) >= 3  # the day's samples and the reading now
    assert "<polyline" in dom
    assert text_of(dom, "kill-switch") == "armed"
    day_pnl = Decimal(bot.ctx.kill_switch.status()["account"]["day_pnl"])
    assert text_of(dom, "day-pnl") == format(day_pnl, "f")
    assert 'id="halt" class="halt" role="alert" hidden' in dom

    await sim_exchange.place_order("BTCUSDT", "BUY", "0.100")  # far above 1000 USDT notional
    await until(lambda: bot.ctx.kill_switch.trip is not None)
    status, health = await get(client, base + "/health")
    assert status == 503
    assert health["reasons"][0].startswith("trading halted: kill switch tripped: open notional")

    dom = await chromium(tmp_path / "profile", "--dump-dom", base + "/")
    assert text_of(dom, "health") == "UNHEALTHY"
    assert text_of(dom, "kill-switch") == "TRIPPED"
    assert "TRADING HALTED by the kill switch: open notional" in dom
    assert "tradeloop resume" in dom
    shot = tmp_path / "halted.png"
    await chromium(
        tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1300", base + "/"
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
