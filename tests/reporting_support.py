"""Sim-backed bots for the journal and daily-report tests: a standalone simulator on loopback
that outlives the bots (so a restart keeps the same exchange), a ``ManualClock`` shared by the
simulator and every bot, and helpers that trade and wait until the cache equals the truth."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from framework import ManualClock, OrderRequest
from framework.runtime import Bot
from framework.testing import BotFactory, HookRecorder
from plugins.binance import BinanceConfig, BinancePlugin
from plugins.sim import SimExchange, SimSettings

DAY = 86_400
DAY_START = 1_714_521_600.0  # 2024-05-01 00:00:00 UTC
DAY_NAME = "2024-05-01"

# Quick reconnects and retries, no market-silence watchdog (prices only move on move_price).
CONNECTOR = BinanceConfig(
    keepalive_interval=60.0,
    stale_after=5.0,
    market_silence_after=0.0,
    ping_interval=0.5,
    reconnect_base=0.02,
    reconnect_cap=0.2,
    rest_timeout=5.0,
    retry_base=0.01,
    retry_cap=0.05,
)

SIM: dict[str, Any] = {
    "seed": 11,
    "updates_per_second": 0,  # deterministic: prices move only when a test moves them
    "listen_key_validity": 30 * DAY,  # the manual clock jumps hours; keep the key alive
    "symbols": ["BTCUSDT", "ETHUSDT"],
}


async def until(predicate: Callable[[], bool], *, within: float = 15.0) -> None:
    """Poll ``predicate`` until true; fail after ``within`` seconds (never a timing assertion)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling state owned by other tasks
            await asyncio.sleep(0.01)


async def start_sim(clock: ManualClock, **overrides: Any) -> SimExchange:
    """A started standalone simulator whose clock is ``clock``."""
    settings = msgspec.convert({**SIM, **overrides}, SimSettings, strict=False)
    sim = SimExchange(settings, clock=clock.time)
    await sim.start("127.0.0.1", 0)
    return sim


def bot_settings(sim: SimExchange, data_dir: Path, **extra: Any) -> dict[str, Any]:
    """Settings overrides pointing a bot at ``sim`` with its data under ``data_dir``."""
    out: dict[str, Any] = {
        "exchange": {
            "name": "sim",
            "rest_url": sim.rest_url,
            "stream_url": sim.ws_url,
            "api_key": sim.settings.api_key,
            "api_secret": sim.settings.api_secret,
            "symbols": list(sim.settings.symbols),
        },
        "runtime": {"data_dir": str(data_dir), "use_uvloop": False},
    }
    out.update(extra)
    return out


@dataclass
class SimBot:
    """A started bot trading on the shared simulator."""

    bot: Bot
    sim: SimExchange
    binance: BinancePlugin
    plugins: Mapping[str, object] = field(default_factory=dict)

    async def order(
        self, symbol: str, side: str, qty: str, *, price: str | None = None, tif: str = "GTC"
    ) -> None:
        """Place an order through the connector and wait until the cache matches the truth."""
        request = OrderRequest(
            symbol=symbol,
            side=side,  # type: ignore[arg-type]
            type="LIMIT" if price is not None else "MARKET",
            quantity=Decimal(qty),
            price=Decimal(price) if price is not None else None,
            time_in_force=tif,  # type: ignore[arg-type]
        )
        await self.bot.ctx.exchange.place_order(request)
        await self.settled()

    async def move(self, symbol: str, price: str) -> None:
        """Move the simulator's mid price (fills what it crosses) and wait for the cache."""
        await self.sim.move_price(symbol, price)
        await until(lambda: self._mark_seen(symbol, Decimal(price)))
        await self.settled()

    def _mark_seen(self, symbol: str, price: Decimal) -> bool:
        journal = self.plugins.get("journal")
        marks = getattr(journal, "marks", None)
        if marks is None:
            return True
        quote = self.sim.engine.quote(symbol)
        return bool(marks.get(symbol) == (quote.bid + quote.ask) / 2)

    async def settled(self) -> None:
        """Until the bot's cache equals the simulator's truth (balances, positions, orders)."""
        await until(lambda: cache_matches(self.bot, self.sim))


def cache_matches(bot: Bot, sim: SimExchange) -> bool:
    """The cache's wallet, the positions it holds and open orders equal the simulator's."""
    truth = sim.truth()
    cache = bot.ctx.cache
    initial = sim.settings.balances
    for asset, b in truth.balances.items():
        held = cache.balances.get(asset)
        if held is None:  # never updated: fine while the exchange has not changed it either
            if b.wallet_balance != Decimal(initial.get(asset, 0)):
                return False
        elif held.wallet_balance != b.wallet_balance:
            return False
    for symbol, p in truth.positions.items():
        held_p = cache.position(symbol)
        # A position this run has not heard of yet is unknown, not wrong (no reconciliation).
        if held_p is not None and held_p.amount != p.amount:
            return False
    cached_orders = {o.order_id for o in cache.open_orders.values()}
    return cached_orders == {o.order_id for o in truth.open_orders}


async def start_bot(
    bot_factory: BotFactory,
    sim: SimExchange,
    clock: ManualClock,
    data_dir: Path,
    plugins: Mapping[str, object],
    *,
    recorder: HookRecorder | None = None,
    **extra: Any,
) -> SimBot:
    """A started bot with the real binance plugin and ``plugins``, connected to ``sim``."""
    binance = BinancePlugin(CONNECTOR, exchange_time=sim.clock)  # the exchange's manual clock
    # Plugins registered in code start in the order given (start_priority sorts only
    # entry-point plugins): the journal first, so it sees the connector's first states.
    everything = {**plugins, "binance": binance}
    bot = await bot_factory(
        bot_settings(sim, data_dir, **extra), plugins=everything, clock=clock, start=False
    )
    if recorder is not None:
        recorder.attach(bot)  # before start: it sees the startup reconcile and stream states
    await bot.start()
    assert binance.connector is not None
    await binance.connector.wait_connected()
    journal = plugins.get("journal")
    if journal is not None:  # its at-start sample (a REST snapshot) comes before any trade
        await until(lambda: bool(getattr(journal, "balances", True)))
    return SimBot(bot, sim, binance, everything)
