"""A symbol the simulator does not list is an error at check and at start, never silence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from framework import Strategy
from framework.errors import PluginStartError
from framework.testing import BotFactory
from tests.support import run_cli

NO_LOGGING = {"smart_logging": {"enabled": False}, "status": {"enabled": False}}


class Doge(Strategy):
    """Trades a symbol only its ``symbols`` attribute names."""

    symbols = ("DOGEUSDT",)


def _check(tmp_path: Path, yaml: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    (tmp_path / "settings.yaml").write_text(yaml, encoding="utf-8")
    result = run_cli("check", cwd=tmp_path, env=env)
    return result.returncode, result.stderr.strip()


def test_a_strategy_symbol_the_simulator_lacks_is_a_settings_error(tmp_path: Path) -> None:
    code, err = _check(
        tmp_path,
        "default:\n  strategies:\n  - {id: ma, use: ma_crossover, params: {symbol: DOGEUSDT}}\n",
    )
    assert code == 2
    assert err == (
        "tradeloop: error: settings: strategies[0].params.symbol = 'DOGEUSDT' is not allowed: "
        "a symbol the simulated exchange lists: BNBUSDT, BTCUSDT, ETHUSDT, SOLUSDT, XRPUSDT"
    )


def test_symbols_outside_plugins_sim_symbols_are_refused(tmp_path: Path) -> None:
    code, err = _check(
        tmp_path,
        "default:\n  exchange: {symbols: [BTCUSDT]}\n  plugins: {sim: {symbols: [BTCUSDT]}}\n"
        "  strategies:\n  - {id: ma, use: ma_crossover, params: {symbol: ETHUSDT}}\n",
    )
    assert code == 2
    assert "strategies[0].params.symbol = 'ETHUSDT'" in err
    assert err.endswith("lists: BTCUSDT")
    code, err = _check(tmp_path, "default:\n  exchange: {symbols: [BTCUSDT, btcusd]}\n")
    assert (code, "exchange.symbols[1] = 'btcusd'" in err) == (2, True)


def test_a_binance_bot_is_not_held_to_the_simulators_symbols(tmp_path: Path) -> None:
    code, err = _check(
        tmp_path,
        "default:\n  exchange: {name: binance_futures}\n  strategies:\n"
        "  - {id: ma, use: ma_crossover, params: {symbol: DOGEUSDT}}\n",
        env={"TRADELOOP_EXCHANGE__API_KEY": "k" * 64, "TRADELOOP_EXCHANGE__API_SECRET": "s" * 64},
    )
    assert code == 0, err


async def test_a_symbol_only_the_strategy_class_names_stops_the_start(
    bot_factory: BotFactory,
) -> None:
    settings: dict[str, Any] = {
        "plugins": NO_LOGGING,
        "strategies": [{"id": "doge", "use": f"{__name__}:Doge"}],
    }
    bot = await bot_factory(settings, entry_points=True, start=False)
    with pytest.raises(PluginStartError, match=r"DOGEUSDT.*lists: BNBUSDT, BTCUSDT"):
        await bot.start()
