"""``exchange.name: paper``: a bot on live prices, here those of an upstream simulator.

The upstream plays the venue: its public REST (exchangeInfo, bookTicker, klines) and market
streams are all the paper exchange reads, over loopback. The bot runs the real connector,
reconciliation and journal against the local paper exchange.
"""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from framework import hookimpl
from framework.clock import ManualClock
from framework.errors import PluginStartError, SettingsError
from framework.runtime import Bot
from framework.testing import BotFactory
from framework.types import OrderRequest, Tick
from plugins.sim import SimExchange, parse_sim_settings
from plugins.sim.account import account_path
from plugins.sim.plugin import SimPlugin
from plugins.sim.testing import CONNECT_TIMEOUT, FAST_BINANCE, SimFactory, sim_settings, until
from plugins.sim.upstream import UpstreamFeed, load_venue
from tests.support import run_cli

LIVE_KEY = "live-key-that-paper-trading-must-never-read"


class Ticks:
    """Records the ticks the bot's strategies-side hooks see."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []

    @hookimpl
    def on_tick(self, tick: Tick) -> None:
        self.ticks.append(tick)


def paper_settings(upstream: SimExchange, data_dir: Path, **paper: Any) -> dict[str, Any]:
    """Settings of a paper bot whose venue is ``upstream``."""
    return {
        "exchange": {
            "name": "paper",
            "symbols": ["BTCUSDT"],
            # keys of a live account in the settings: paper trading must not read them
            "api_key": LIVE_KEY,
            "api_secret": LIVE_KEY,
        },
        "runtime": {"data_dir": str(data_dir)},
        "plugins": {
            "binance": dict(FAST_BINANCE),
            "sim": {
                "paper": {
                    "rest_url": upstream.rest_url,
                    "stream_url": upstream.ws_url,
                    "reconnect_base": 0.02,
                    "reconnect_cap": 0.2,
                    **paper,
                },
            },
        },
    }


async def start_paper_bot(
    bot_factory: BotFactory, settings: dict[str, Any], clock: ManualClock, ticks: Ticks
) -> Bot:
    bot = await bot_factory(settings, plugins={"ticks": ticks}, clock=clock, entry_points=True)
    connector = bot.ctx.plugin("binance").connector
    async with asyncio.timeout(CONNECT_TIMEOUT):
        await connector.wait_connected()
    return bot


def paper_of(bot: Bot) -> SimPlugin:
    plugin = bot.ctx.plugin("sim")
    assert isinstance(plugin, SimPlugin)
    return plugin


def flat(bot: Bot) -> bool:
    position = bot.ctx.cache.position("BTCUSDT")
    return position is None or position.amount == 0


def last_bid(ticks: Ticks) -> Decimal | None:
    return ticks.ticks[-1].bid if ticks.ticks else None


async def test_prices_follow_the_venue_and_orders_fill_there_locally(
    sim_factory: SimFactory, bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    upstream = await sim_factory(updates_per_second=0, symbols=["BTCUSDT"], clock=manual_clock.time)
    await upstream.move_price("BTCUSDT", "61000")
    ticks = Ticks()
    bot = await start_paper_bot(
        bot_factory, paper_settings(upstream, tmp_path / "data"), manual_clock, ticks
    )
    paper = paper_of(bot).exchange
    assert paper is not None
    status = bot.ctx.plugin("status").model.snapshot(bot.ctx)
    assert "PAPER" in status.exchange
    # The contract is the venue's, and so is the past before the start.
    mine, venue = paper.engine.specs["BTCUSDT"], upstream.engine.specs["BTCUSDT"]
    for field in (
        "tick_size",
        "step_size",
        "min_qty",
        "max_qty",
        "market_max_qty",
        "min_notional",
        "multiplier_up",
        "multiplier_down",
        "max_num_orders",
        "max_price",
        "min_price_value",
    ):
        assert getattr(mine, field) == getattr(venue, field), field
    assert mine.lot_step(market=True) == venue.lot_step(market=True)
    assert mine.lot_min_qty(market=True) == venue.lot_min_qty(market=True)
    assert [c.close for c in paper.candles["BTCUSDT"].series["1m"].closed] == [
        c.close for c in upstream.candles["BTCUSDT"].series["1m"].closed
    ]
    for price in ("61234.5", "60987.6"):
        await upstream.move_price("BTCUSDT", price)
        want = upstream.paths["BTCUSDT"].quote()
        await until(lambda want=want: last_bid(ticks) == want.bid)
        assert (ticks.ticks[-1].ask, ticks.ticks[-1].bid_qty) == (want.ask, want.bid_qty)
    ask = upstream.paths["BTCUSDT"].quote().ask
    order = await bot.ctx.exchange.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010"))
    )
    await until(lambda: bot.ctx.cache.position("BTCUSDT") is not None)
    position = bot.ctx.cache.position("BTCUSDT")
    assert position is not None
    assert (position.amount, position.entry_price) == (Decimal("0.010"), ask)
    assert order.client_order_id
    assert not upstream.engine.trades  # nothing ever reached the venue
    # A resting limit order fills when the venue's price crosses it.
    await bot.ctx.exchange.place_order(
        OrderRequest(
            symbol="BTCUSDT",
            side="SELL",
            type="LIMIT",
            quantity=Decimal("0.010"),
            price=Decimal("61500.0"),
        )
    )
    await until(lambda: len(paper.engine.open_orders["BTCUSDT"]) == 1)
    await upstream.move_price("BTCUSDT", "61600")
    await until(lambda: not paper.engine.open_orders["BTCUSDT"])
    await until(lambda: flat(bot))
    fills = [t for t in paper.engine.trades if t.side.value == "SELL"]
    assert [t.price for t in fills] == [Decimal("61500.0")]


async def test_the_paper_account_survives_a_restart(
    sim_factory: SimFactory, bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    upstream = await sim_factory(updates_per_second=0, symbols=["BTCUSDT"], clock=manual_clock.time)
    data = tmp_path / "data"
    first = await start_paper_bot(
        bot_factory, paper_settings(upstream, data), manual_clock, Ticks()
    )
    await first.ctx.exchange.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.020"))
    )
    await until(lambda: not flat(first))
    paper = paper_of(first).exchange
    assert paper is not None
    wallet = paper.engine.wallet["USDT"]
    await first.stop()
    saved = json.loads(account_path(data, paper=True).read_text(encoding="utf-8"))
    assert Decimal(saved["wallet"]["USDT"]) == wallet < Decimal(10000)  # the taker fee
    assert not account_path(data).exists()  # apart from the simulator's account

    await upstream.move_price("BTCUSDT", "70000")
    second = await start_paper_bot(
        bot_factory, paper_settings(upstream, data), manual_clock, Ticks()
    )
    await until(lambda: not flat(second))  # the cache sees it through the real connector
    position = second.ctx.cache.position("BTCUSDT")
    assert position is not None
    assert position.amount == Decimal("0.020")
    again = paper_of(second).exchange
    assert again is not None
    assert again.engine.wallet["USDT"] == wallet
    assert again.engine.unrealized("BTCUSDT") > 0  # marked at the venue's new price


async def test_a_venue_disconnect_holds_strategies_until_prices_are_back(
    sim_factory: SimFactory, bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    upstream = await sim_factory(updates_per_second=0, symbols=["BTCUSDT"], clock=manual_clock.time)
    ticks = Ticks()
    bot = await start_paper_bot(
        bot_factory, paper_settings(upstream, tmp_path / "data"), manual_clock, ticks
    )
    feed = paper_of(bot).feed
    assert feed is not None
    await upstream.move_price("BTCUSDT", "62000")
    await until(lambda: feed.fresh and "paper" not in bot.ctx.trading_held)
    port = upstream.port
    await upstream.stop()  # the venue goes away: no prices
    await until(lambda: "paper" in bot.ctx.trading_held)
    assert not feed.fresh
    assert feed.counters.stale == 1
    back = SimExchange(sim_settings(updates_per_second=0, symbols=["BTCUSDT"]))
    await back.start("127.0.0.1", port)
    try:
        await until(lambda: feed.counters.connects >= 2)
        await back.move_price("BTCUSDT", "63000")
        want = back.paths["BTCUSDT"].quote().bid
        await until(lambda: "paper" not in bot.ctx.trading_held)
        await until(lambda: last_bid(ticks) == want)
    finally:
        await bot.stop()
        await back.stop()


async def test_a_silent_venue_is_stale_and_replaced(
    sim_factory: SimFactory, bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    upstream = await sim_factory(updates_per_second=0, symbols=["BTCUSDT"], clock=manual_clock.time)
    bot = await start_paper_bot(
        bot_factory,
        paper_settings(upstream, tmp_path / "data", stale_after=0.2),
        manual_clock,
        Ticks(),
    )
    feed = paper_of(bot).feed
    assert feed is not None
    await upstream.move_price("BTCUSDT", "62000")
    await until(lambda: feed.fresh)
    upstream.set_faults(stale_after=0.001)  # connected, answering pings, sending nothing
    await until(lambda: "paper" in bot.ctx.trading_held)
    upstream.set_faults(stale_after=0)
    connects = feed.counters.connects
    await until(lambda: feed.counters.connects > connects)
    await upstream.move_price("BTCUSDT", "62100")
    await until(lambda: "paper" not in bot.ctx.trading_held)


async def test_a_malformed_venue_message_is_counted_never_applied(sim_factory: SimFactory) -> None:
    local = await sim_factory(updates_per_second=0, symbols=["BTCUSDT"])
    before = local.paths["BTCUSDT"].quote()
    feed = UpstreamFeed(
        local, parse_sim_settings({}).paper, on_stale=lambda _: None, on_fresh=lambda: None
    )
    bad = [
        b"not json",
        b'{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","s":"BTCUSDT"}}',
        b'{"data":{"e":"bookTicker","s":"BTCUSDT","b":"NaN","B":"1","a":"2","A":"1"}}',
        b'{"data":{"e":"bookTicker","s":"BTCUSDT","b":"5","B":"1","a":"4","A":"1"}}',
        b'{"data":{"e":"bookTicker","s":"DOGEUSDT","b":"1","B":"1","a":"2","A":"1"}}',
        b'{"data":{"e":"depthUpdate","s":"BTCUSDT"}}',
    ]
    for raw in bad:
        assert feed.handle(raw) is False
    assert feed.counters.malformed == len(bad)
    assert local.paths["BTCUSDT"].quote() == before
    good = (
        b'{"data":{"e":"bookTicker","s":"BTCUSDT","b":"60000.0","B":"1.5","a":"60000.1","A":"2"}}'
    )
    assert feed.handle(good) is True
    assert local.paths["BTCUSDT"].quote().bid == Decimal("60000.0")


@pytest.mark.parametrize(
    ("paper", "key"),
    [
        ({"stream_url": "https://fstream.binance.com"}, "plugins.sim.paper.stream_url"),
        ({"rest_url": "ftp://fapi.binance.com"}, "plugins.sim.paper.rest_url"),
        ({"stale_after": 0}, "plugins.sim.paper.stale_after"),
        ({"reconnect_base": 5, "reconnect_cap": 1}, "plugins.sim.paper.reconnect_cap"),
        ({"bogus": 1}, "plugins.sim.paper.bogus"),
    ],
)
def test_a_bad_paper_setting_names_its_key(paper: dict[str, Any], key: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_sim_settings({"paper": paper})
    assert info.value.key == key


def test_tradeloop_check_refuses_bad_paper_settings_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text(
        "default:\n  exchange:\n    name: paper\n  plugins:\n    sim:\n      paper:\n"
        "        stream_url: http://example.com\n",
        encoding="utf-8",
    )
    run = run_cli("check", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "plugins.sim.paper.stream_url" in run.stderr
    (tmp_path / "settings.yaml").write_text(
        "default:\n  exchange:\n    name: paper\n    rest_url: http://127.0.0.1:1\n",
        encoding="utf-8",
    )
    run = run_cli("check", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "exchange.rest_url" in run.stderr
    (tmp_path / "settings.yaml").write_text(
        "default:\n  exchange:\n    name: paper\n  plugins:\n    sim:\n      enabled: false\n",
        encoding="utf-8",
    )
    run = run_cli("check", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "plugins.sim.enabled" in run.stderr


async def test_a_symbol_the_venue_does_not_list_stops_the_start(
    sim_factory: SimFactory, bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    upstream = await sim_factory(updates_per_second=0, symbols=["BTCUSDT"])
    settings = paper_settings(upstream, tmp_path / "data")
    settings["exchange"]["symbols"] = ["BTCUSDT", "ETHUSDT"]
    with pytest.raises(PluginStartError, match="ETHUSDT") as info:
        await bot_factory(settings, clock=manual_clock, entry_points=True)
    cause = info.value.__cause__
    assert isinstance(cause, SettingsError)
    assert cause.key == "exchange.symbols[1]"
    assert info.value.exit_code == 2  # a settings error, as tradeloop run reports it


async def test_an_unreachable_venue_stops_the_start_naming_it(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    gone = SimExchange(sim_settings(updates_per_second=0))
    await gone.start("127.0.0.1", 0)
    await gone.stop()  # a port nobody serves now
    settings = paper_settings(gone, tmp_path / "data")
    with pytest.raises(PluginStartError, match=re.escape(gone.rest_url)):
        await bot_factory(settings, clock=manual_clock, entry_points=True)
    assert not (tmp_path / "data" / "paper").exists()


async def test_the_paper_contract_is_the_venues_filter_for_filter(sim_factory: SimFactory) -> None:
    upstream = await sim_factory(updates_per_second=0, symbols=["XRPUSDT"])
    venue = await load_venue(upstream.rest_url, ["XRPUSDT"], history_minutes=0, now_ms=0)
    mine, theirs = venue.specs["XRPUSDT"], upstream.engine.specs["XRPUSDT"]
    for market in (True, False):  # XRPUSDT's MARKET_LOT_SIZE differs from its LOT_SIZE
        assert mine.lot_step(market=market) == theirs.lot_step(market=market)
        assert mine.lot_min_qty(market=market) == theirs.lot_min_qty(market=market)
        assert mine.lot_max_qty(market=market) == theirs.lot_max_qty(market=market)
    assert (mine.min_price_value, mine.max_price) == (theirs.min_price_value, theirs.max_price)
    assert venue.history == {}
