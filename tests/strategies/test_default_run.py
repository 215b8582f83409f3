"""settings.yaml's default strategy: valid, trading on a moving simulator, idle without one."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from framework.loader import load_plugins
from framework.settings import load_settings
from framework.testing import BotFactory
from plugins.sim.testing import until
from strategies.ma_crossover import MACrossover
from tests.strategies.helpers import ready, sim_of, sim_settings
from tests.support import ROOT, run_cli


def default_strategies() -> list[dict[str, Any]]:
    settings = load_settings(ROOT / "settings.yaml", env="default")
    return [msgspec.to_builtins(s) for s in settings.strategies]


def test_settings_yaml_runs_one_ma_crossover_with_risk_limits() -> None:
    settings = load_settings(ROOT / "settings.yaml", env="default")
    (entry,) = settings.strategies
    assert (entry.id, entry.use, entry.params["symbol"]) == ("ma_btc", "ma_crossover", "BTCUSDT")
    assert entry.risk.max_position is not None
    assert entry.risk.max_order_notional is not None
    loaded = load_plugins(settings)
    strategy = loaded.pm.get_plugin("strategy:ma_btc")
    assert isinstance(strategy, MACrossover)
    # A reversal (twice the quantity) must pass the configured limits at the simulator's price.
    assert 2 * strategy.params.quantity <= entry.risk.max_position
    assert 2 * strategy.params.quantity * Decimal(65_000) <= entry.risk.max_order_notional


async def test_default_strategy_trades_on_moving_prices(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    # The shipped instance, sampling every tick of a fast-moving simulator instead of once a
    # second: the same code path as `tradeloop run`, minutes of market in a moment.
    (entry,) = default_strategies()
    entry["params"]["interval"] = 0
    settings = sim_settings(tmp_path, entry, updates_per_second=500.0)
    bot = await bot_factory(settings, entry_points=True)
    await ready(bot)
    await until(lambda: bot.account.stats.fills >= 2, within=30)
    engine = sim_of(bot).engine
    strategy = bot.ctx.plugin("strategy:ma_btc")
    assert isinstance(strategy, MACrossover)
    # No new order from here; the one on its way (if any) is answered and its fills reach
    # the cache. (Stopped mid-flight, its fill could come after the user-data stream closed.)
    bot.ctx.hold_strategies("test: settle before the stop")
    await until(
        lambda: strategy.in_flight is None and bot.account.stats.fills == len(engine.trades)
    )
    summary = await bot.stop()
    trades = list(engine.trades)
    assert summary["orders"]["placed"] >= 2
    assert summary["fills"] == len(trades)
    assert Decimal(summary["realized_pnl"]["total"]) == sum(t.realized_pnl for t in trades)
    assert summary["strategies"]["ma_btc"]["state"] == "running"
    assert summary["plugin_errors"] == {}


def test_cli_run_with_the_default_settings_and_no_connector_idles(tmp_path: Path) -> None:
    env = {"TRADELOOP_PLUGINS__BINANCE__ENABLED": "false"}
    result = run_cli(
        "--settings",
        str(ROOT / "settings.yaml"),
        "run",
        "--for",
        "2",
        "--summary",
        "summary.json",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["strategies"] == {
        "ma_btc": {"state": "running", "paused_by": "", "reason": "", "orders": {}}
    }
    assert summary["orders"]["placed"] == 0
    assert summary["plugin_errors"] == {}
    assert "Traceback" not in result.stderr
