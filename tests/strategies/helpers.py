"""Running the example strategies on the embedded simulator, prices moved by the test."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from framework import Strategy
from framework.runtime import Bot
from plugins.sim import SimExchange
from plugins.sim.testing import until

SYMBOL = "BTCUSDT"

# The real connector, reconciliation and the embedded simulator; nothing that prints or writes
# reports. Prices move only when a test calls ``move`` (updates_per_second: 0).
PLUGINS_OFF = ("smart_logging", "status", "daily_report", "journal")


def sim_settings(tmp_path: Path, *strategies: dict[str, Any], **sim: Any) -> dict[str, Any]:
    """Settings overrides: the embedded simulator (seeded, still prices) and ``strategies``."""
    return {
        "plugins": {
            **{name: {"enabled": False} for name in PLUGINS_OFF},
            "sim": {"seed": 3, "updates_per_second": 0.0, "user_event_delay": 0.0, **sim},
        },
        "runtime": {"data_dir": str(tmp_path)},
        "strategies": list(strategies),
    }


def sim_of(bot: Bot) -> SimExchange:
    """The embedded simulator the bot's ``sim`` plugin started."""
    sim = getattr(bot.ctx.plugin("sim"), "exchange", None)
    assert isinstance(sim, SimExchange)
    return sim


async def ready(bot: Bot) -> SimExchange:
    """Wait until the streams are connected and reconciliation released the strategies."""
    connector = getattr(bot.ctx.plugin("binance"), "connector", None)
    assert connector is not None
    await connector.wait_connected()
    await until(lambda: not bot.ctx.trading_held)
    return sim_of(bot)


async def move(bot: Bot, price: str) -> None:
    """Put the mid at ``price`` (+ half a tick) and wait until the bot has seen that tick."""
    sim = sim_of(bot)
    await sim.move_price(SYMBOL, price)
    update_id = sim.paths[SYMBOL].last.update_id
    await until(lambda: getattr(bot.ctx.last_ticks.get(SYMBOL), "update_id", 0) == update_id)


def position(bot: Bot) -> Decimal:
    """The cache's position on ``SYMBOL`` (0 when flat)."""
    found = bot.ctx.cache.position(SYMBOL)
    return found.amount if found is not None else Decimal(0)


def strategy(bot: Bot, sid: str) -> Strategy:
    """The strategy instance ``sid``."""
    plugin = bot.ctx.plugin(f"strategy:{sid}")
    assert isinstance(plugin, Strategy)
    return plugin


def assert_summary_matches_trades(summary: dict[str, Any], trades: list[Any]) -> None:
    """The run summary's fills, filled orders, realized PnL and fees are the simulator's."""
    assert summary["fills"] == len(trades)
    assert summary["orders"]["filled"] == len({t.order_id for t in trades})
    pnl = summary["realized_pnl"]
    assert Decimal(pnl["total"]) == sum((t.realized_pnl for t in trades), Decimal(0))
    assert Decimal(pnl["fees"].get("USDT", "0")) == sum((t.commission for t in trades), Decimal(0))
