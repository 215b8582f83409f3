"""The grid example, against the embedded simulator (prices moved by hand, jobs by the clock)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from framework import ManualClock
from framework.errors import SettingsError
from framework.runtime import Bot
from framework.testing import BotFactory
from plugins.sim import SimExchange
from plugins.sim.testing import until
from strategies.grid import Grid, GridParams
from tests.strategies.helpers import (
    SYMBOL,
    assert_summary_matches_trades,
    move,
    position,
    ready,
    sim_settings,
    strategy,
)

NO_EXCHANGE = {"plugins": {"binance": {"enabled": False}, "smart_logging": {"enabled": False}}}


def grid(params: dict[str, Any] | None = None, **risk: Any) -> dict[str, Any]:
    """A ``strategies:`` entry: 2 levels a side, 10 USDT apart, re-centred every 30 s."""
    return {
        "id": "grid",
        "use": "grid",
        "params": {
            "symbol": SYMBOL,
            "levels": 2,
            "step": "10",
            "quantity": "0.002",
            "recenter_every": 30,
            "recenter_after": 2,
            **(params or {}),
        },
        "risk": risk,
    }


def the_grid(bot: Bot) -> Grid:
    found = strategy(bot, "grid")
    assert isinstance(found, Grid)
    return found


def book(sim: SimExchange) -> set[tuple[str, str]]:
    """The open orders on the exchange, as (side, price)."""
    return {(o.side, f"{o.price:.2f}") for o in sim.truth().open_orders}


def cached(bot: Bot) -> set[tuple[str, str]]:
    """The grid's open orders in the bot's cache, as (side, price)."""
    return {(o.side, f"{o.price:.2f}") for o in bot.ctx.orders("grid").open_orders(SYMBOL)}


def ladder(*levels: str) -> set[tuple[str, str]]:
    """``"B64990"`` -> ("BUY", "64990.00")."""
    sides = {"B": "BUY", "S": "SELL"}
    return {(sides[x[0]], f"{Decimal(x[1:]):.2f}") for x in levels}


@pytest.mark.parametrize(
    ("params", "key", "message"),
    [
        ({"step": "0"}, "strategies[0].params.step", "a number > 0, <= 1000000000000000"),
        (
            {"quantity": "-1"},
            "strategies[0].params.quantity",
            "a number > 0, <= 1000000000000000",
        ),
        ({"levels": 0}, "strategies[0].params.levels", ">= 1"),
        ({"recenter_every": 0}, "strategies[0].params.recenter_every", "> 0"),
    ],
)
async def test_params_are_validated_naming_the_key(
    bot_factory: BotFactory, params: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(SettingsError) as info:
        await bot_factory({**NO_EXCHANGE, "strategies": [grid(params)]})
    assert info.value.key == key
    assert message in str(info.value)


async def test_without_an_exchange_it_stays_idle(
    bot_factory: BotFactory, manual_clock: ManualClock
) -> None:
    bot = await bot_factory(
        {**NO_EXCHANGE, "strategies": [grid()]}, entry_points=True, clock=manual_clock
    )
    assert GridParams().levels == 3
    await manual_clock.advance(120)
    summary = await bot.stop()
    assert "strategy:grid.recenter" not in summary["jobs"]
    assert summary["strategies"]["grid"]["state"] == "running"
    assert summary["plugin_errors"] == {}


@pytest.mark.parametrize(
    "events",
    [{}, {"user_event_delay": 0.2, "faults": {"delay_user_events": 1.0}}],
    ids=["prompt-events", "late-events"],
)
async def test_ladder_fills_replacement_recentring_and_cancel_on_stop(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path, events: dict[str, Any]
) -> None:
    settings = sim_settings(tmp_path, grid(), **events)
    bot = await bot_factory(settings, entry_points=True, clock=manual_clock)
    sim = await ready(bot)
    strat = the_grid(bot)

    await move(bot, "65000")  # mid 65000.05: the ladder is centred on 65000
    expected = ladder("B64990", "B64980", "S65010", "S65020")
    await until(lambda: book(sim) == expected and cached(bot) == expected)
    assert strat.center == Decimal("65000")

    await move(bot, "64985")  # the buy at 64990 fills: a sell one step up replaces it
    expected = ladder("B64980", "S65000", "S65010", "S65020")
    # (the position comes in its own event, after the fill the grid answered already)
    await until(
        lambda: (
            book(sim) == expected and cached(bot) == expected and position(bot) == Decimal("0.002")
        )
    )

    await move(bot, "65005")  # that sell fills: the round trip earned one step
    expected = ladder("B64990", "B64980", "S65010", "S65020")
    await until(
        lambda: book(sim) == expected and cached(bot) == expected and not bot.ctx.cache.positions
    )
    assert [t.realized_pnl for t in sim.engine.trades] == [Decimal(0), Decimal("0.02")]

    await move(bot, "65055")  # both sells fill: buys one step down replace them
    expected = ladder("B64990", "B64980", "B65000", "B65010")
    await until(
        lambda: (
            book(sim) == expected and cached(bot) == expected and position(bot) == Decimal("-0.004")
        )
    )
    await manual_clock.advance(29)
    assert strat.stats["ladders"] == 1

    await manual_clock.advance(1)  # the job: the mid is 5.5 steps away, re-centre on 65060
    expected = ladder("B65050", "B65040", "S65070", "S65080")
    await until(lambda: book(sim) == expected and cached(bot) == expected)
    assert (strat.center, strat.stats["ladders"]) == (Decimal("65060"), 2)
    # The job is done once its last acknowledgement is back, which may trail the book.
    await until(lambda: bot.scheduler.stats()["strategy:grid.recenter"].runs == 1)

    trades = list(sim.engine.trades)
    summary = await bot.stop()
    assert book(sim) == set()  # cancelled on stop
    assert strat.stats["canceled"] == 4 + 4  # at the re-centring, then at stop
    assert summary["orders"]["placed"] == 4 + 1 + 1 + 2 + 4
    assert summary["strategy:grid"]["fills"] == len(trades) == 4
    assert summary["strategy:grid"]["replaced"] == 4
    assert summary["jobs"]["strategy:grid.recenter"]["runs"] == 1
    assert_summary_matches_trades(summary, trades)
    assert summary["plugin_errors"] == {}


async def test_levels_beyond_the_risk_limits_are_skipped(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    settings = sim_settings(tmp_path, grid(max_open_orders=3))
    bot = await bot_factory(settings, entry_points=True)
    sim = await ready(bot)
    strat = the_grid(bot)
    await move(bot, "65000")
    await until(lambda: strat.stats["placed"] + strat.stats["skipped"] == 4)
    # Placed in order B64990, S65010, B64980, then S65020 is refused: 3 open on BTCUSDT.
    await until(lambda: len(book(sim)) == 3)
    assert book(sim) == ladder("B64990", "S65010", "B64980")
    assert strat.stats["skipped"] == 1
    summary = await bot.stop()
    assert summary["orders"]["refused"] == 1
    assert summary["strategies"]["grid"]["state"] == "running"
    assert book(sim) == set()


async def test_while_held_the_job_waits_and_fills_come_on_release(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    bot = await bot_factory(sim_settings(tmp_path, grid()), entry_points=True, clock=manual_clock)
    sim = await ready(bot)
    strat = the_grid(bot)
    await move(bot, "65000")
    await until(lambda: len(book(sim)) == 4)
    await manual_clock.advance(30)  # near the centre, orders open: nothing to do
    assert strat.stats["ladders"] == 1

    release = bot.ctx.hold_strategies("test resync")  # as reconciliation does after a reconnect
    await move(bot, "65100")  # both sells fill on the exchange; the cache sees it
    await until(lambda: position(bot) == Decimal("-0.004"))
    assert strat.stats["fills"] == 0  # the strategy's notifications wait for the release
    await manual_clock.advance(30)  # 10 steps away, but held: the job does nothing
    assert strat.stats["ladders"] == 1

    release()  # the fills and order updates arrive, in order: both levels are replaced
    assert strat.stats["fills"] == 2
    await until(lambda: strat.stats["replaced"] == 2)
    await manual_clock.advance(30)  # free: a new ladder around 65100
    expected = ladder("B65090", "B65080", "S65110", "S65120")
    await until(lambda: book(sim) == expected and cached(bot) == expected)
    assert strat.stats["ladders"] == 2
