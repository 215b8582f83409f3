"""A symbol the exchange does not list is refused at start by the connector itself.

The simulator runs standalone (``plugins.sim.enabled: false``, reached via ``exchange.rest_url``),
so the sim plugin's own check cannot catch it: only the connector's ``GET /fapi/v1/exchangeInfo``
read does. Real sockets, a real ``tradeloop run`` subprocess, a tmp data folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from framework import ManualClock, Strategy
from framework.errors import PluginStartError
from framework.testing import BotFactory
from plugins.binance import BinancePlugin
from plugins.sim import SimExchange
from tests.reporting_support import bot_settings, start_sim
from tests.support import run_cli

QUIET = {"smart_logging": {"enabled": False}, "status": {"enabled": False}}
ALLOWED = "a symbol GET /fapi/v1/exchangeInfo lists as TRADING: BTCUSDT, ETHUSDT"


class Doge(Strategy):
    """Trades a symbol only its ``symbols`` attribute names."""

    symbols = ("DOGEUSDT",)


@pytest.fixture
async def sim() -> AsyncIterator[SimExchange]:
    exchange = await start_sim(ManualClock(1_714_521_600.0))
    try:
        yield exchange
    finally:
        await exchange.stop()


def _settings(sim: SimExchange, data: Path, **extra: Any) -> dict[str, Any]:
    out = bot_settings(sim, data, plugins={"sim": {"enabled": False}, **QUIET}, **extra)
    out["exchange"]["symbols"] = ["BTCUSDT"]
    return out


async def test_run_refuses_a_strategy_symbol_the_exchange_does_not_list(
    sim: SimExchange, tmp_path: Path
) -> None:
    settings = _settings(
        sim,
        tmp_path / "data",
        strategies=[{"id": "ma", "use": "ma_crossover", "params": {"symbol": "DOGEUSDT"}}],
    )
    exchange = settings["exchange"]
    env = {
        "TRADELOOP_EXCHANGE__API_KEY": exchange.pop("api_key"),
        "TRADELOOP_EXCHANGE__API_SECRET": exchange.pop("api_secret"),
    }
    text = yaml.safe_dump({"default": msgspec.to_builtins(settings)})
    (tmp_path / "settings.yaml").write_text(text, encoding="utf-8")
    result = await asyncio.to_thread(run_cli, "run", "--for", "5", cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "strategies[0].params.symbol = 'DOGEUSDT' is not allowed: " + ALLOWED in last


async def test_an_exchange_symbol_and_a_class_symbol_are_named_by_their_keys(
    sim: SimExchange, bot_factory: BotFactory, tmp_path: Path
) -> None:
    settings = _settings(sim, tmp_path / "a")
    settings["exchange"]["symbols"] = ["BTCUSDT", "XRPUSDT"]
    bot = await bot_factory(settings, entry_points=True, start=False)
    with pytest.raises(PluginStartError, match=r"exchange\.symbols\[1\] = 'XRPUSDT'") as caught:
        await bot.start()
    assert caught.value.exit_code == 2

    settings = _settings(sim, tmp_path / "b", strategies=[{"id": "d", "use": f"{__name__}:Doge"}])
    bot = await bot_factory(settings, entry_points=True, start=False)
    with pytest.raises(PluginStartError, match=r"strategies\[0\]\.use = 'DOGEUSDT'.*ETHUSDT$"):
        await bot.start()


async def test_listed_symbols_start_and_are_kept(
    sim: SimExchange, bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await bot_factory(_settings(sim, tmp_path / "data"), entry_points=True)
    binance = bot.ctx.plugin("binance")
    assert isinstance(binance, BinancePlugin)
    assert binance.connector is not None
    assert binance.connector.listed == frozenset({"BTCUSDT", "ETHUSDT"})
