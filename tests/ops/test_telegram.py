"""The Telegram front end against a small fake Bot API server on loopback (aiohttp): long
polling, allowed chats, replies, old messages, acknowledgement at stop, secrets never logged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from framework import ManualClock
from framework.errors import SettingsError
from framework.runtime import Bot
from framework.testing import BotFactory
from plugins.http import HttpPlugin, HttpSettings
from plugins.sim.exchange import SimExchange
from plugins.sim.testing import SimBotFactory, until
from plugins.telegram import TelegramPlugin, TelegramSettings
from tests.ops.test_http_sim import samples
from tests.strategy.test_strategy_api import USE, strategies

BOT_TOKEN = "123456789:AAsEcReT-t3l3gram-t0ken-never-shown"
OPS, OTHER_OPS, STRANGER = 1001, 1002, 666


@dataclass
class FakeBotApi:
    """``getUpdates`` (long polling, offsets) and ``sendMessage`` of the Bot API."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    failures: int = 0  # the next polls answered with an error
    bad_tokens: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    next_id: int = 100
    url: str = ""

    def message(self, chat: int, text: str, date: float) -> None:
        self.next_id += 1
        self.updates.append(
            {
                "update_id": self.next_id,
                "message": {
                    "message_id": self.next_id,
                    "date": int(date),
                    "chat": {"id": chat, "type": "private"},
                    "from": {"id": chat, "is_bot": False, "first_name": "Op"},
                    "text": text,
                },
            }
        )
        self.arrived.set()

    def to(self, chat: int) -> list[str]:
        return [m["text"] for m in self.sent if m["chat_id"] == chat]

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != BOT_TOKEN:
            self.bad_tokens += 1
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        body = await request.json()
        method = request.match_info["method"]
        if method == "sendMessage":
            self.sent.append(body)
            return web.json_response({"ok": True, "result": {"message_id": len(self.sent)}})
        if self.failures:
            self.failures -= 1
            return web.Response(status=502, text="<html>bad gateway</html>")
        offset = int(body.get("offset", 0))
        self.offsets.append(offset)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed
        if not self.updates and body.get("timeout"):
            self.arrived.clear()
            try:  # a short long poll: the test never waits long
                async with asyncio.timeout(0.2):
                    await self.arrived.wait()
            except TimeoutError:
                pass
        return web.json_response({"ok": True, "result": self.updates})


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", api.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    api.url = f"http://127.0.0.1:{port}"
    yield api
    await runner.cleanup()


def telegram(api: FakeBotApi, **overrides: Any) -> TelegramPlugin:
    values: dict[str, Any] = {
        "bot_token": BOT_TOKEN,
        "allowed_chat_ids": [OPS, OTHER_OPS],
        "api_url": api.url,
        "poll_timeout": 1,
        "retry_base": 0.01,
        "retry_cap": 0.05,
    }
    return TelegramPlugin(TelegramSettings(**{**values, **overrides}))


async def start(
    bot_factory: BotFactory, api: FakeBotApi, clock: ManualClock, **extra: object
) -> tuple[Bot, TelegramPlugin]:
    plugin = telegram(api)
    bot = await bot_factory(
        strategies({"id": "a", "use": USE}),
        plugins={"telegram": plugin, **extra},
        clock=clock,
    )
    return bot, plugin


async def test_commands_from_an_allowed_chat_are_run_and_answered(
    bot_factory: BotFactory, bot_api: FakeBotApi, manual_clock: ManualClock
) -> None:
    bot, plugin = await start(bot_factory, bot_api, manual_clock)
    bot_api.message(OPS, "status", manual_clock.time())
    await until(lambda: len(bot_api.to(OPS)) == 1)
    assert "strategy a: running" in bot_api.to(OPS)[0]

    bot_api.message(OPS, "/pause@tradeloop_bot a", manual_clock.time())
    await until(lambda: len(bot_api.to(OPS)) == 2)
    assert bot_api.to(OPS)[1].startswith("strategy a paused")
    assert bot.ctx.strategy_paused_by("a") == "operator"
    assert f"telegram:chat:{OPS}" in bot.ctx.strategy_paused("a")

    bot_api.message(OPS, "dance", manual_clock.time())
    await until(lambda: len(bot_api.to(OPS)) == 3)
    assert bot_api.to(OPS)[2].startswith("refused: unknown command 'dance'")
    assert plugin.stats.commands[("pause", "ok")] == 1
    assert plugin.stats.commands[("", "malformed")] == 1
    # handled updates are confirmed to Telegram with the next offset
    await until(lambda: bool(bot_api.offsets) and bot_api.offsets[-1] > bot_api.next_id)


async def test_other_chats_are_ignored_and_counted(
    bot_factory: BotFactory, bot_api: FakeBotApi, manual_clock: ManualClock
) -> None:
    http = HttpPlugin(HttpSettings(port=0))
    bot, plugin = await start(bot_factory, bot_api, manual_clock, http=http)
    bot_api.message(STRANGER, "stop", manual_clock.time())
    bot_api.message(STRANGER, "flatten", manual_clock.time())
    bot_api.message(OPS, "balance", manual_clock.time())
    await until(lambda: len(bot_api.to(OPS)) == 1)
    assert plugin.stats.ignored == 2
    assert bot_api.to(STRANGER) == []  # not even an answer
    assert not bot.ctx.stop_reason
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{http.port}/metrics") as resp,
    ):
        got = samples(await resp.text())
    assert got[("tradeloop_telegram_ignored_updates_total", ())] == 2
    key = (("command", "balance"), ("outcome", "ok"), ("source", "telegram"))
    assert got[("tradeloop_remote_commands_total", key)] == 1


async def test_messages_sent_while_the_bot_was_away_are_not_run(
    bot_factory: BotFactory, bot_api: FakeBotApi, manual_clock: ManualClock
) -> None:
    bot_api.message(OPS, "stop", manual_clock.time() - 3600)  # an hour old
    bot, plugin = await start(bot_factory, bot_api, manual_clock)
    await until(lambda: len(bot_api.to(OPS)) == 1)
    assert bot_api.to(OPS)[0].startswith("ignored: sent 3600 s ago")
    assert not bot.ctx.stop_reason
    assert plugin.stats.ignored == 1


async def test_stop_answers_and_acknowledges_so_a_restart_does_not_stop_again(
    bot_factory: BotFactory, bot_api: FakeBotApi, manual_clock: ManualClock
) -> None:
    bot, _plugin = await start(bot_factory, bot_api, manual_clock)
    bot_api.message(OPS, "stop", manual_clock.time())
    stop_id = bot_api.next_id
    await until(lambda: bool(bot.ctx.stop_reason))
    assert bot.ctx.stop_reason == f"remote stop (telegram:chat:{OPS})"
    summary = await bot.stop()
    assert bot_api.to(OPS) == ["stopping the bot (graceful shutdown)"]
    assert bot_api.offsets[-1] == stop_id + 1  # Telegram forgets the stop
    assert bot_api.updates == []
    assert summary["telegram"]["commands"] == 1


async def test_poll_failures_back_off_and_never_show_the_token(
    bot_factory: BotFactory,
    bot_api: FakeBotApi,
    manual_clock: ManualClock,
    log_lines: list[str],
) -> None:
    bot_api.failures = 3
    bot, plugin = await start(bot_factory, bot_api, manual_clock)
    bot_api.message(OPS, "status", manual_clock.time())
    await until(lambda: len(bot_api.to(OPS)) == 1)
    assert plugin.stats.poll_errors == 3
    assert any("getUpdates failed (HTTP 502: answer is not JSON)" in line for line in log_lines)
    summary = await bot.stop()
    assert summary["telegram"]["poll_errors"] == 3
    assert not any(BOT_TOKEN in line for line in log_lines)


async def test_a_wrong_token_is_reported_without_the_token(
    bot_factory: BotFactory,
    bot_api: FakeBotApi,
    manual_clock: ManualClock,
    log_lines: list[str],
) -> None:
    wrong = "987654321:AAnother-wrong-token-value"
    plugin = telegram(bot_api, bot_token=wrong)
    await bot_factory(plugins={"telegram": plugin}, clock=manual_clock)
    await until(lambda: plugin.stats.poll_errors >= 2)
    assert any("HTTP 401: Unauthorized" in line for line in log_lines)
    assert not any(wrong in line for line in log_lines)


async def test_flatten_is_confirmed_only_by_the_chat_that_asked(
    sim_bot: SimBotFactory, sim_exchange: SimExchange, bot_api: FakeBotApi
) -> None:
    plugin = telegram(bot_api)
    bot = await sim_bot(plugins={"telegram": plugin})
    clock = bot.clock
    await sim_exchange.place_order("BTCUSDT", "BUY", "0.010")
    await until(lambda: bool(bot.ctx.cache.positions))
    bot_api.message(OPS, "flatten", clock.time())
    await until(lambda: len(bot_api.to(OPS)) == 1)
    code = bot_api.to(OPS)[0].rsplit("flatten ", 1)[1].split()[0]
    bot_api.message(OTHER_OPS, f"flatten {code}", clock.time())
    await until(lambda: len(bot_api.to(OTHER_OPS)) == 1)
    assert bot_api.to(OTHER_OPS)[0] == "refused: no flatten to confirm: send flatten first"
    assert any(p.amount for p in sim_exchange.truth().positions.values())

    bot_api.message(OPS, f"flatten {code}", clock.time())
    await until(lambda: len(bot_api.to(OPS)) == 2)
    assert bot_api.to(OPS)[1].startswith("flatten: 0 orders cancelled, 1 positions closed")
    assert not any(p.amount for p in sim_exchange.truth().positions.values())


def test_settings_need_a_token_and_an_allowed_chat() -> None:
    with pytest.raises(SettingsError, match=r"plugins\.telegram\.bot_token"):
        TelegramPlugin(TelegramSettings(allowed_chat_ids=[1]))
    with pytest.raises(SettingsError, match=r"plugins\.telegram\.allowed_chat_ids"):
        TelegramPlugin(TelegramSettings(bot_token=BOT_TOKEN))
