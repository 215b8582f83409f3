"""Each account-level limit trips the kill switch against the simulator over real sockets."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from rich.console import Console

from framework.account_cli import run_resume
from framework.clock import ManualClock
from framework.killswitch import KillSwitchStateError, read_state
from framework.runtime import Bot
from framework.settings import load_settings
from framework.testing import BotFactory, HookRecorder
from framework.types import KillSwitchTrip
from plugins.daily_report.build import build_report, summary
from plugins.daily_report.markdown import render_markdown
from plugins.daily_report.page import render_html
from plugins.http import HttpPlugin, HttpSettings
from plugins.http.state import EquityHistory
from plugins.journal import Journal
from plugins.sim.exchange import SimExchange
from plugins.sim.testing import SimBotFactory, SimFactory, until
from plugins.status import StatusModel
from plugins.status.render import render_line, render_panel

from .helpers import SYMBOL, limits, move, open_long, resting_buy


@pytest.fixture
async def still_sim(sim_factory: SimFactory) -> SimExchange:
    """A simulator whose prices move only when a test moves them."""
    return await sim_factory(updates_per_second=0)


def utc_date(seconds: float) -> date:
    return datetime.fromtimestamp(seconds, UTC).date()


async def tripped(bot: Bot, recorder: HookRecorder) -> KillSwitchTrip:
    await until(lambda: recorder.of("on_kill_switch"))
    trip = recorder.of("on_kill_switch")[0]["trip"]
    assert isinstance(trip, KillSwitchTrip)
    return trip


async def test_daily_loss_trips_holds_and_cancels(
    sim_bot: SimBotFactory,
    still_sim: SimExchange,
    manual_clock: ManualClock,
    hook_recorder: HookRecorder,
) -> None:
    bot = await sim_bot(sim=still_sim, overrides=limits(max_daily_loss=300))
    hook_recorder.attach(bot)
    price = await open_long(bot, still_sim, qty="1.000")  # a fall of 1 USDT loses 1 USDT
    assert bot.ctx.kill_switch.risk is not None
    assert bot.ctx.kill_switch.trip is None

    await move(bot, still_sim, price - 100)  # a loss of about 100: not enough
    await manual_clock.advance(1.0)
    assert bot.ctx.kill_switch.trip is None
    await move(bot, still_sim, price - 450)
    await manual_clock.advance(1.0)

    trip = await tripped(bot, hook_recorder)
    assert trip.limit == "daily_loss"
    assert trip.threshold == Decimal(300)
    assert trip.value >= Decimal(300)
    assert trip.asset == "USDT"
    assert trip.actions[0] == "strategies held"
    assert "1 open orders cancelled" in trip.actions
    assert "kill switch: daily loss" in bot.ctx.trading_held
    truth = still_sim.truth()
    assert truth.open_orders == []
    assert truth.positions[SYMBOL].amount == Decimal("1.000")  # close_positions is off
    saved = read_state(bot.ctx.kill_switch.path)
    assert saved.trip == trip
    assert bot.ctx.kill_switch.status()["tripped"] is True

    # Resumed, the day's figures start anew: the same loss does not trip it again.
    assert bot.ctx.kill_switch.resume("test") == trip
    assert bot.ctx.trading_held == ""
    await manual_clock.advance(1.0)
    risk = bot.ctx.kill_switch.risk
    assert risk is not None
    assert risk.day_start == risk.equity
    assert bot.ctx.kill_switch.trip is None
    assert len(hook_recorder.of("on_kill_switch")) == 1
    (resume,) = [e["resume"] for e in hook_recorder.of("on_kill_switch_resume")]
    assert (resume.trip, resume.by) == (trip, "test")


async def test_drawdown_from_the_days_peak_trips(
    sim_bot: SimBotFactory,
    still_sim: SimExchange,
    manual_clock: ManualClock,
    hook_recorder: HookRecorder,
) -> None:
    bot = await sim_bot(sim=still_sim, overrides=limits(max_drawdown="0.02"))
    hook_recorder.attach(bot)
    price = await open_long(bot, still_sim, qty="1.000")  # ~price USDT of exposure
    await move(bot, still_sim, price * Decimal("1.10"))  # a new peak
    await manual_clock.advance(1.0)
    risk = bot.ctx.kill_switch.risk
    assert risk is not None
    assert risk.peak > risk.day_start
    assert bot.ctx.kill_switch.trip is None
    # Back to the start: a loss of the day's gain only, but far from the peak.
    await move(bot, still_sim, price * Decimal("1.05"))
    await manual_clock.advance(1.0)

    trip = await tripped(bot, hook_recorder)
    assert trip.limit == "drawdown"
    assert trip.threshold == Decimal("0.02")
    assert trip.value >= Decimal("0.02")
    assert "drawdown" in trip.describe()


async def test_open_notional_trips_on_the_position_event_and_closes_when_configured(
    sim_bot: SimBotFactory, still_sim: SimExchange, hook_recorder: HookRecorder
) -> None:
    journal = Journal()
    bot = await sim_bot(
        plugins={"journal": journal},
        sim=still_sim,
        overrides={"kill_switch": {"max_open_notional": "1000", "close_positions": True}},
    )
    hook_recorder.attach(bot)
    await open_long(bot, still_sim)  # 0.1 BTC is far above 1000 USDT of notional

    trip = await tripped(bot, hook_recorder)
    assert trip.limit == "open_notional"
    assert trip.value > Decimal(1000)
    assert "1 positions closed (reduce-only MARKET)" in trip.actions
    truth = still_sim.truth()
    assert truth.open_orders == []
    assert truth.positions[SYMBOL].amount == 0
    await journal.flush()
    (row,) = await journal.store.kill_switch_trips(0, 10**13)
    assert row.limit_name == "open_notional"
    assert row.value == trip.value
    assert row.threshold == Decimal(1000)
    assert row.action_lines == list(trip.actions)

    # The day's report lists the trip (markdown, HTML, JSON summary).
    report = await build_report(
        journal.store, utc_date(trip.at), now_ms=int(trip.at * 1000) + 1, current_run=journal.run_id
    )
    assert report.kill_switch[0].limit == "open_notional"
    assert report.kill_switch[0].actions == trip.actions
    markdown = render_markdown(report)
    assert "### Kill switch" in markdown
    assert "1 positions closed (reduce-only MARKET)" in markdown
    assert "- **Kill switch:** tripped 1 time" in markdown
    assert "not cleared" in markdown
    assert "<h3>Kill switch</h3>" in render_html(report)
    assert summary(report)["kill_switch_trips"] == 1


async def test_no_limit_set_measures_but_never_trips(
    sim_bot: SimBotFactory, still_sim: SimExchange, manual_clock: ManualClock
) -> None:
    bot = await sim_bot(sim=still_sim)
    price = await open_long(bot, still_sim)
    await move(bot, still_sim, price / 2)
    await manual_clock.advance(1.0)
    risk = bot.ctx.kill_switch.risk
    assert risk is not None
    assert risk.day_pnl < 0
    assert bot.ctx.kill_switch.trip is None
    assert bot.ctx.trading_held == ""


async def test_a_trip_survives_a_restart_until_resume(
    sim_bot: SimBotFactory,
    still_sim: SimExchange,
    hook_recorder: HookRecorder,
    manual_clock: ManualClock,
    tmp_path: Path,
) -> None:
    data = {"runtime": {"data_dir": str(tmp_path / "data")}}
    first = await sim_bot(sim=still_sim, overrides={**data, **limits(max_open_notional=1000)})
    hook_recorder.attach(first)
    await open_long(first, still_sim)
    trip = await tripped(first, hook_recorder)
    summary = await first.stop()
    assert summary["kill_switch"]["tripped"] is True

    second = await sim_bot(sim=still_sim, overrides={**data, **limits(max_open_notional=1000)})
    hook_recorder.attach(second)
    assert second.ctx.kill_switch.trip == trip
    assert "kill switch: open notional" in second.ctx.trading_held
    await second.ctx.exchange.place_order(resting_buy(still_sim), owner="s1")
    await manual_clock.advance(1.0)
    assert second.ctx.kill_switch.trips == 0  # not announced again

    # `tradeloop resume` writes the file while the bot runs: the next check releases.
    from framework.killswitch import clear_trip

    assert clear_trip(second.ctx.kill_switch.path) == trip
    await manual_clock.advance(1.0)
    await until(lambda: second.ctx.kill_switch.trip is None)
    assert second.ctx.trading_held == ""
    assert read_state(second.ctx.kill_switch.path).trip is None
    (resume,) = [e["resume"] for e in hook_recorder.of("on_kill_switch_resume")]
    assert (resume.trip, resume.by) == (trip, "tradeloop resume")  # noticed, announced


def test_equity_history_stays_bounded_and_starts_afresh_each_day() -> None:
    history = EquityHistory(10)
    for i in range(25):
        history.add("2024-05-01", "USDT", 1000.0 + i, Decimal(100 + i), Decimal(i))
    assert len(history.samples) <= 10
    assert history.samples[0][0] == 1000.0  # the day's start is kept, resolution halves
    assert history.samples[-1][0] == 1024.0
    history.add("2024-05-01", "USDT", 1024.0, Decimal(7), Decimal(0))  # same time: replaced
    assert history.samples[-1][1] == Decimal(7)
    history.add("2024-05-02", "USDT", 90000.0, Decimal(1), Decimal(0))
    assert history.as_dict() == {
        "day": "2024-05-02",
        "asset": "USDT",
        "samples": [[90000.0, "1", "0"]],
    }


async def test_status_display_and_health_show_the_halt(
    sim_bot: SimBotFactory, still_sim: SimExchange, hook_recorder: HookRecorder
) -> None:
    http = HttpPlugin(HttpSettings(port=0))
    bot = await sim_bot(
        plugins={"http": http},
        sim=still_sim,
        overrides=limits(max_daily_loss=500, max_open_notional=1000),
    )
    hook_recorder.attach(bot)
    model = StatusModel()
    line = render_line(model.snapshot(bot.ctx))
    assert "kill switch armed (daily loss 500 USDT, open notional 1000 USDT)" in line
    assert http.health() == []

    await open_long(bot, still_sim)
    await tripped(bot, hook_recorder)

    line = render_line(model.snapshot(bot.ctx))
    assert "kill switch TRIPPED: open notional" in line
    assert "trading halted until `tradeloop resume`" in line
    panel = Console(width=160, record=True)
    panel.print(render_panel(model.snapshot(bot.ctx)))
    assert "TRADING HALTED (kill switch)" in panel.export_text()
    (reason,) = [r for r in http.health() if r.startswith("trading halted")]
    assert "kill switch tripped: open notional" in reason
    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{http.port}/health") as resp:
            assert resp.status == 503
            body = await resp.json()
        async with client.get(f"http://127.0.0.1:{http.port}/api/equity") as resp:
            equity = await resp.json()
    assert body["reasons"][0] == reason
    assert equity["kill_switch"]["tripped"] is True
    assert equity["now"]["asset"] == "USDT"


async def test_a_damaged_state_file_stops_the_start_and_resume_replaces_it(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "kill_switch.json").write_text('{"trip": {"limit": "daily_lo')
    overrides = {"runtime": {"data_dir": str(data)}, **limits(max_daily_loss=100)}
    with pytest.raises(KillSwitchStateError) as info:
        await bot_factory(overrides)
    assert info.value.exit_code == 2
    assert "kill_switch.json is damaged" in str(info.value)

    settings = load_settings(use_files=False, overrides=overrides)
    out = io.StringIO()
    assert run_resume(settings, out=out) == 0
    assert "replaced it with a cleared kill switch state" in out.getvalue()
    bot = await bot_factory(overrides)
    assert bot.ctx.kill_switch.trip is None
    assert bot.ctx.trading_held == ""


async def test_nothing_is_written_while_no_limit_is_set(
    sim_bot: SimBotFactory, still_sim: SimExchange, manual_clock: ManualClock
) -> None:
    bot = await sim_bot(sim=still_sim)
    await open_long(bot, still_sim)
    for _ in range(12):
        await manual_clock.advance(1.0)
    await bot.stop()
    assert bot.ctx.kill_switch.risk is not None
    assert not bot.ctx.kill_switch.path.exists()


async def test_a_resume_is_journaled_like_the_trip_also_while_no_bot_runs(
    sim_bot: SimBotFactory, still_sim: SimExchange, hook_recorder: HookRecorder, tmp_path: Path
) -> None:
    """``tradeloop resume`` while the bot is down: the next bot journals the clearing once
    (the file keeps it until a bot saved that it announced it), and no later bot again."""
    data = {"runtime": {"data_dir": str(tmp_path / "data")}}
    overrides = {**data, **limits(max_open_notional=1000)}
    journal = Journal()
    first = await sim_bot(plugins={"journal": journal}, sim=still_sim, overrides=overrides)
    hook_recorder.attach(first)
    await open_long(first, still_sim)
    trip = await tripped(first, hook_recorder)  # announced (and journaled), its actions done
    await first.stop()

    settings = load_settings(use_files=False, overrides=overrides)
    out = io.StringIO()
    assert run_resume(settings, out=out) == 0
    assert "cleared kill switch trip" in out.getvalue()
    cleared = read_state(tmp_path / "data" / "kill_switch.json").cleared
    assert cleared is not None
    assert cleared.trip == trip

    for _ in range(2):  # the second start announces nothing: the first saved it at stop
        journal = Journal()
        bot = await sim_bot(plugins={"journal": journal}, sim=still_sim, overrides=overrides)
        assert bot.ctx.kill_switch.trip is None
        assert bot.ctx.trading_held == ""
        await journal.flush()
        resumes = await journal.store.kill_switch_resumes(0, 2**62)
        # The day's report lists the trip with its clearing.
        report = await build_report(
            journal.store, utc_date(trip.at), now_ms=int(cleared.at * 1000) + 1, current_run=""
        )
        await bot.stop()
        assert read_state(tmp_path / "data" / "kill_switch.json").cleared is None
        assert [(r.by_whom, r.tripped_at, r.limit_name, r.ts) for r in resumes] == [
            ("tradeloop resume", int(trip.at * 1000), "open_notional", int(cleared.at * 1000))
        ]
        assert resumes[0].reason == trip.describe()
        (figure,) = report.kill_switch
        assert (figure.cleared_at, figure.cleared_by) == (
            int(cleared.at * 1000),
            "tradeloop resume",
        )
        assert " by tradeloop resume" in render_markdown(report)
