"""Alerts pushed through the webhook plugin to a loopback receiver: what raises them, how they
are aggregated and rate limited, retried with backoff, never blocking the loop, never carrying
a secret."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

import framework.types as framework_types
from framework import Alert, BotContext, ManualClock, OrderRequest, Tick, hookimpl
from framework.errors import SettingsError
from framework.runtime import Bot
from framework.testing import BotFactory
from framework.types import StreamState, StreamStatus
from plugins.sim.exchange import SimExchange
from plugins.sim.testing import SimBotFactory, SimFactory, until
from plugins.webhook import WebhookPlugin, WebhookSettings
from plugins.webhook.alerts import AlertBook
from tests.reconciliation.helpers import recon as quiet_recon
from tests.reconciliation.helpers import reconcile
from tests.strategy.test_strategy_api import USE, strategies, tick

SECRET_PATH = "hooks/aLeRt-SeCrEt-path-0123456789"
BUG_SECRET = "bUgSeCrEt-value-0123456789abcdef"


@dataclass
class Receiver:
    """A JSON webhook receiver: answers each POST with the next scripted status (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    hang: int = 0  # the next requests left unanswered until the server stops
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.hang:
            self.hang -= 1
            await self.stopping.wait()
        if self.gate is not None:
            await self.gate.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.append(body)
        return web.json_response({"ok": status == 200}, status=status)

    def kinds(self) -> list[str]:
        return [b["kind"] for b in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield server
    server.stopping.set()
    if server.gate is not None:
        server.gate.set()
    await runner.cleanup()


def webhook(receiver: Receiver, **changes: Any) -> WebhookPlugin:
    values: dict[str, Any] = {
        "format": "json",
        "url_secret": f"{receiver.url}/{SECRET_PATH}",
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "timeout": 5.0,
        "check_interval": 1.0,
    }
    values.update(changes)
    return WebhookPlugin(WebhookSettings(**values), rng=random.Random(3))


def alert(kind: Any, at: float, n: int = 0) -> Alert:
    return Alert(kind=kind, subject="user_data", message=f"problem {n}", at=at)


def test_a_storm_sends_the_first_alert_then_one_digest_per_window() -> None:
    book = AlertBook(window=300.0)
    first = book.add(alert("stream_down", 1000.0, 0))
    assert first is not None
    assert first.text == "tradeloop stream down: problem 0"
    assert all(book.add(alert("stream_down", 1000.0 + i, i)) is None for i in range(1, 13))
    other = book.add(alert("drift", 1001.0))  # another kind has its own window
    assert other is not None
    assert book.due(1299.0) == []  # the window is not over
    [digest] = [d for d in book.due(1300.0) if d.kind == "stream_down"]
    assert digest.count == 12
    assert digest.text == "tradeloop stream down: 12 alerts in 5 min (last: problem 12)"
    # the storm goes on: counted again, one digest at the next window's end
    assert book.add(alert("stream_down", 1400.0, 13)) is None
    [again] = [d for d in book.due(1600.0) if d.kind == "stream_down"]
    assert again.count == 1
    # a whole window quiet: the window closes, the next alert goes out at once
    assert book.due(1900.0) == []
    assert book.add(alert("stream_down", 1901.0, 14)) is not None
    assert book.received == 16


async def start(
    bot_factory: BotFactory,
    plugin: WebhookPlugin,
    clock: ManualClock,
    overrides: dict[str, Any] | None = None,
    **extra: object,
) -> Bot:
    return await bot_factory(overrides, plugins={"webhook": plugin, **extra}, clock=clock)


def down(stream: str, at: float, state: StreamState = StreamState.DISCONNECTED) -> StreamStatus:
    return StreamStatus(stream=stream, state=state, at=at, reason="connection reset")


async def test_a_stream_down_beyond_its_bound_is_alerted_once_per_outage(
    bot_factory: BotFactory, receiver: Receiver, manual_clock: ManualClock
) -> None:
    plugin = webhook(receiver, stream_down_after=60.0)
    bot = await start(bot_factory, plugin, manual_clock)
    hooks = bot.ctx.hooks
    hooks.on_stream_state(down("user_data", manual_clock.time()))
    await manual_clock.advance(30)
    hooks.on_stream_state(down("user_data", manual_clock.time(), StreamState.STALE))
    await manual_clock.advance(29)
    assert receiver.received == []  # 59 s: within the bound
    await manual_clock.advance(2)
    await until(lambda: len(receiver.received) == 1)
    body = receiver.received[0]
    assert body["kind"] == "stream_down"
    assert body["subject"] == "user_data"
    assert body["text"].startswith("tradeloop stream down: stream user_data down for 6")
    assert "connection reset" in body["text"]
    await manual_clock.advance(120)
    hooks.on_stream_state(down("user_data", manual_clock.time(), StreamState.CONNECTED))
    # a stream that comes back in time is not alerted
    hooks.on_stream_state(down("market", manual_clock.time()))
    await manual_clock.advance(10)
    hooks.on_stream_state(down("market", manual_clock.time(), StreamState.CONNECTED))
    await manual_clock.advance(120)
    await asyncio.sleep(0.05)
    assert receiver.kinds() == ["stream_down"]


class Broken:
    """Raises in every tick: disabled after ``hooks.max_failures`` failures."""

    @hookimpl
    def on_tick(self, ctx: BotContext, tick: Tick) -> None:
        raise RuntimeError(f"bug with api_secret={BUG_SECRET}")


async def test_plugins_disabled_and_strategies_paused_by_errors_are_alerted(
    bot_factory: BotFactory, receiver: Receiver, manual_clock: ManualClock
) -> None:
    plugin = webhook(receiver)
    settings = strategies({"id": "bad", "use": USE, "params": {"fail_on_tick": True}})
    settings["exchange"] = {"api_secret": BUG_SECRET}
    bot = await start(bot_factory, plugin, manual_clock, settings, broken=Broken())
    for n in range(5):
        bot.ctx.hooks.on_tick(tick(n))
    await until(lambda: len(receiver.received) == 2)
    by_kind = {b["kind"]: b for b in receiver.received}
    assert by_kind["strategy_paused"]["subject"] == "bad"
    assert "strategy bad paused after an error in on_tick" in by_kind["strategy_paused"]["text"]
    disabled = by_kind["plugin_disabled"]
    assert disabled["subject"] == "broken"
    assert "disabled after 5 failures, last in on_tick" in disabled["text"]
    assert BUG_SECRET not in str(receiver.received)  # masked: api_secret=***
    assert "api_secret=***" in disabled["text"]


async def test_drift_found_by_reconciliation_is_alerted(
    sim_factory: SimFactory,
    sim_bot: SimBotFactory,
    manual_clock: ManualClock,
    receiver: Receiver,
) -> None:
    sim = await sim_factory(clock=manual_clock.time)
    recon = quiet_recon()
    bot = await sim_bot(plugins={"reconciliation": recon, "webhook": webhook(receiver)}, sim=sim)
    await until(lambda: recon.stats.runs >= 1 and bot.ctx.trading_held == "")
    sim.set_faults(drop_user_events=1.0)  # the cache misses the trade
    await sim.place_order("BTCUSDT", "BUY", "0.010")
    result = await reconcile(bot, recon, manual_clock, sim)
    assert result.mismatches
    await until(lambda: "drift" in receiver.kinds())
    body = receiver.received[receiver.kinds().index("drift")]
    assert f"{len(result.mismatches)} mismatches (" in body["message"]
    assert "repaired" in body["message"]


async def test_the_exchange_refusing_an_order_and_a_rate_limit_ban_are_alerted(
    sim_bot: SimBotFactory, sim_exchange: SimExchange, receiver: Receiver
) -> None:
    plugin = webhook(receiver)
    unlimited = {"max_order_notional": "100000000", "max_position": "1000"}
    bot = await sim_bot(
        plugins={"webhook": plugin},
        overrides={"strategies": [{"id": "a", "use": USE, "risk": unlimited}]},
    )
    await until(lambda: bot.ctx.trading_held == "" and "BTCUSDT" in bot.ctx.last_ticks)
    huge = OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("50"))
    with pytest.raises(Exception, match="Margin is insufficient"):
        await bot.ctx.orders("a").place(huge)
    await until(lambda: "order_refused" in receiver.kinds())
    refused = receiver.received[receiver.kinds().index("order_refused")]
    assert refused["subject"] == "a"
    assert "exchange refused BUY 50 BTCUSDT MARKET of strategy a" in refused["message"]

    sim_exchange.set_faults(rate_limit_burst=1.0)  # the next request spends the minute's weight
    with contextlib.suppress(Exception):
        for _ in range(3):
            await bot.ctx.exchange.fetch_account_snapshot()
    await until(lambda: "rate_limited" in receiver.kinds())
    banned = receiver.received[receiver.kinds().index("rate_limited")]
    assert banned["message"].startswith("REST rate limited (429): every request waits")


async def test_failed_deliveries_are_retried_with_backoff(
    bot_factory: BotFactory, receiver: Receiver, manual_clock: ManualClock, log_lines: list[str]
) -> None:
    receiver.statuses = [500, 503]
    plugin = webhook(receiver)
    bot = await start(bot_factory, plugin, manual_clock)
    bot.ctx.hooks.on_alert(alert("order_refused", manual_clock.time()))
    await until(lambda: len(plugin.alerts_sent) == 1)
    assert receiver.kinds() == ["order_refused"]
    assert sum("retry in" in line for line in log_lines) == 2
    assert not any(SECRET_PATH in line for line in log_lines)
    summary = await bot.stop()
    assert summary["webhook"]["alerts_sent"] == 1


async def test_a_receiver_that_hangs_never_blocks_the_loop(
    bot_factory: BotFactory, receiver: Receiver, manual_clock: ManualClock
) -> None:
    receiver.gate = asyncio.Event()  # the receiver answers nothing until released
    plugin = webhook(receiver, alert_queue=3, alert_window=1.0)
    bot = await start(bot_factory, plugin, manual_clock)
    for n in range(10):  # each a new window: each one is sent, the queue overflows
        bot.ctx.hooks.on_alert(alert("order_refused", manual_clock.time(), n))
        await manual_clock.advance(2)
    # every hook returned at once; the sender waits on its one request
    assert plugin.alerts_dropped > 0
    assert not bot.bus.errors
    receiver.gate.set()
    await until(lambda: plugin.alerts_sent and plugin.alerts_sent[-1].message == "problem 9")
    assert plugin.alerts_dropped + len(plugin.alerts_sent) + plugin.alerts_failed == 10
    assert [o.message for o in plugin.alerts_sent][-3:] == ["problem 7", "problem 8", "problem 9"]


def test_json_format_needs_a_url() -> None:
    with pytest.raises(SettingsError, match=r"plugins\.webhook\.url_secret"):
        WebhookPlugin(WebhookSettings(format="json"))


async def test_alerts_still_queued_at_stop_are_delivered(
    bot_factory: BotFactory, receiver: Receiver, manual_clock: ManualClock
) -> None:
    receiver.hang = 1  # the first alert's request never gets an answer
    plugin = webhook(receiver)
    bot = await start(bot_factory, plugin, manual_clock)
    bot.ctx.hooks.on_alert(alert("order_refused", manual_clock.time(), 1))
    bot.ctx.hooks.on_alert(alert("rate_limited", manual_clock.time(), 2))
    await until(lambda: receiver.hang == 0)  # the sender waits on the first one
    summary = await bot.stop()  # cuts the sender; the stop sends what is still queued
    assert receiver.kinds() == ["rate_limited"]
    assert summary["webhook"]["alerts_sent"] == 1


async def test_the_kill_switch_tripping_is_alerted(
    bot_factory: BotFactory, receiver: Receiver, manual_clock: ManualClock
) -> None:
    trip_type = getattr(framework_types, "KillSwitchTrip", None)
    if trip_type is None:
        pytest.skip("the on_kill_switch hook (killswitch branch) is not merged yet")
    plugin = webhook(receiver)
    bot = await start(bot_factory, plugin, manual_clock)
    trip = trip_type(
        limit="daily_loss",
        value=Decimal("520"),
        threshold=Decimal("500"),
        at=manual_clock.time(),
        actions=("strategies held", "2 orders cancelled"),
    )
    bot.bus.notify_kw("on_kill_switch", ctx=bot.ctx, trip=trip)
    await until(lambda: "kill_switch" in receiver.kinds())
    body = receiver.received[0]
    assert body["subject"] == "daily_loss"
    assert body["text"] == (
        "tradeloop kill switch tripped: daily loss 520 USDT reached max_daily_loss 500 USDT; "
        "done: strategies held; 2 orders cancelled"
    )
