"""The history seam: ``ctx.history`` / ``Strategy.history`` read candles through the connector,
and ``warm_up`` runs before any tick reaches a strategy (real connector, embedded simulator)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from framework import Candle
from framework.testing import BotFactory
from plugins.sim.testing import until
from tests.strategies.helpers import move, ready, sim_settings, strategy
from tests.strategy.doubles import HistoryReader

USE = {"id": "reader", "use": "tests.strategy.doubles:HistoryReader"}


async def test_warm_up_reads_history_before_the_first_tick(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    # prices move on their own: ticks flow from the start
    bot = await bot_factory(sim_settings(tmp_path, USE, updates_per_second=20), entry_points=True)
    await ready(bot)
    reader = strategy(bot, "reader")
    assert isinstance(reader, HistoryReader)
    assert reader.ticks_before_warm_up == 0
    await until(lambda: reader.ticks > 0)
    candles = reader.candles
    assert len(candles) == 200
    assert all(isinstance(c, Candle) and c.symbol == "BTCUSDT" for c in candles)
    assert candles == sorted(candles, key=lambda c: c.open_time)
    with pytest.raises(AttributeError):
        candles[0].close = candles[0].open  # type: ignore[misc]
    assert msgspec.json.decode(msgspec.json.encode(candles[0]), type=Candle) == candles[0]

    hours = await bot.ctx.history("btcusdt", "1h", 3)  # upper-cased for the connector
    assert [c.interval for c in hours] == ["1h"] * 3
    with pytest.raises(ValueError, match="interval '7m'"):
        await bot.ctx.history("BTCUSDT", "7m", 3)
    with pytest.raises(ValueError, match="limit 0"):
        await bot.ctx.history("BTCUSDT", "1m", 0)
    with pytest.raises(ValueError, match="limit 10001"):
        await bot.ctx.history("BTCUSDT", "1m", 10_001)
    await bot.stop()


async def test_history_without_an_exchange_says_so(bot_factory: BotFactory) -> None:
    bot = await bot_factory(
        {"plugins": {"binance": {"enabled": False}, "smart_logging": {"enabled": False}}}
    )
    with pytest.raises(RuntimeError, match="no exchange connector"):
        await bot.ctx.history("BTCUSDT")
    await bot.stop()


async def test_a_tick_after_warm_up_is_delivered(bot_factory: BotFactory, tmp_path: Path) -> None:
    bot = await bot_factory(sim_settings(tmp_path, USE), entry_points=True)
    await ready(bot)
    reader = strategy(bot, "reader")
    assert isinstance(reader, HistoryReader)
    await move(bot, "65000")
    await until(lambda: reader.ticks == 1)
    await bot.stop()
