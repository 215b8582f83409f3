"""The webhook plugin against a real aiohttp server on loopback: formats, retries, backoff,
a loop that never waits for it, and secrets that never reach a log line or an error."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from loguru import logger

from framework import DailyReport
from framework.errors import SettingsError
from framework.loader import load_plugins
from framework.settings import load_settings, masked
from framework.testing import BotFactory
from plugins.webhook import WebhookPlugin, WebhookSettings, summary_text

TOKEN = "T0AAA/B0BBB/XyZsEcReTtOkEn123"
BOT_TOKEN = "123456:AAsEcReTbOtToKeN"
SUMMARY: dict[str, Any] = {
    "day": "2024-05-01",
    "equity_asset": "USDT",
    "equity_start": "10000",
    "equity_end": "10012.5",
    "equity_change": "12.5",
    "realized_pnl": "14.1",
    "fees": {"USDT": "1.6"},
    "net_pnl": "12.5",
    "trades": 7,
    "notional": "40000",
    "open_positions": 1,
    "unrealized_pnl": "0",
    "reconciles": 50,
    "drift_incidents": 1,
    "mismatches_repaired": 1,
    "disconnects": 2,
    "stale": 0,
    "uptime": 0.979,
    "runs_started": 2,
    "plugin_errors": 2,
    "log_suppressed": 78,
}


@dataclass
class Hook:
    """A chat server: answers each POST with the next scripted (status, headers, body)."""

    script: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    received: list[tuple[str, Any]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((request.path, await request.json()))
        if self.gate is not None:
            await self.gate.wait()
        status, headers, body = self.script.pop(0) if self.script else (200, {}, "ok")
        if isinstance(body, (dict, list)):
            return web.json_response(body, status=status, headers=headers)
        return web.Response(text=body, status=status, headers=headers)


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    server = Hook()
    app = web.Application()
    app.router.add_post("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}"
    yield server
    if server.gate is not None:
        server.gate.set()
    await runner.cleanup()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every log line written while the test runs (message and bound extras)."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(f"{m} {m.record['extra']}"), level="DEBUG")
    yield lines
    logger.remove(sink)


def fast(**changes: Any) -> WebhookSettings:
    values: dict[str, Any] = {"backoff_base": 0.01, "backoff_cap": 0.05, "timeout": 5.0}
    values.update(changes)
    return WebhookSettings(**values)


async def deliver(bot_factory: BotFactory, plugin: WebhookPlugin) -> None:
    bot = await bot_factory(plugins={"webhook": plugin})
    bot.ctx.hooks.on_daily_report(DailyReport(day="2024-05-01", files=(), summary=SUMMARY))
    async with asyncio.timeout(10):
        while not plugin.deliveries:  # noqa: ASYNC110 - the delivery task runs on its own
            await asyncio.sleep(0.01)
    assert not bot.bus.errors  # failures are the plugin's own business, never raised


async def test_slack_summary_after_a_500_and_a_429(
    bot_factory: BotFactory, hook: Hook, log_lines: list[str]
) -> None:
    hook.script = [(500, {}, "oops"), (429, {"Retry-After": "0.01"}, "slow down"), (200, {}, "ok")]
    plugin = WebhookPlugin(fast(url_secret=f"{hook.url}/services/{TOKEN}"), rng=random.Random(1))
    await deliver(bot_factory, plugin)
    (delivery,) = plugin.deliveries
    assert (delivery.ok, delivery.attempts, delivery.status) == (True, 3, 200)
    assert [path for path, _ in hook.received] == [f"/services/{TOKEN}"] * 3
    body = hook.received[-1][1]
    assert body == {"text": summary_text(SUMMARY)}
    assert "tradeloop daily report 2024-05-01 (UTC)" in body["text"]
    assert "Net PnL +12.5 USDT (realized +14.1, fees 1.6 USDT)" in body["text"]
    assert sum("retry in" in line for line in log_lines) == 2
    assert not [line for line in log_lines if "sEcReT" in line]


async def test_telegram_send_message_honours_retry_after(
    bot_factory: BotFactory, hook: Hook, log_lines: list[str]
) -> None:
    hook.script = [
        (429, {}, {"ok": False, "error_code": 429, "parameters": {"retry_after": 0.01}}),
        (200, {}, {"ok": True, "result": {"message_id": 1}}),
    ]
    settings = fast(
        format="telegram", bot_token=BOT_TOKEN, chat_id="-100200", telegram_api=hook.url
    )
    plugin = WebhookPlugin(settings)
    await deliver(bot_factory, plugin)
    assert plugin.deliveries[0].ok
    path, body = hook.received[-1]
    assert path == f"/bot{BOT_TOKEN}/sendMessage"
    assert body == {
        "chat_id": "-100200",
        "text": summary_text(SUMMARY),
        "disable_web_page_preview": True,
    }
    assert not [line for line in log_lines if "sEcReT" in line]


async def test_a_refusal_is_not_retried_and_not_raised(
    bot_factory: BotFactory, hook: Hook, log_lines: list[str]
) -> None:
    hook.script = [(404, {}, "no_service")]
    plugin = WebhookPlugin(fast(url_secret=f"{hook.url}/services/{TOKEN}"))
    await deliver(bot_factory, plugin)
    (delivery,) = plugin.deliveries
    assert (delivery.ok, delivery.attempts, delivery.problem) == (False, 1, "HTTP 404")
    assert any("not delivered" in line and "127.0.0.1" in line for line in log_lines)
    assert not [line for line in log_lines if "sEcReT" in line]


async def test_an_unreachable_server_is_retried_then_given_up(
    bot_factory: BotFactory, log_lines: list[str], unused_tcp_port: int
) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}/services/{TOKEN}"
    plugin = WebhookPlugin(fast(url_secret=url, retries=2))
    await deliver(bot_factory, plugin)
    (delivery,) = plugin.deliveries
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert delivery.problem == "ClientConnectorError"
    assert not [line for line in log_lines if "sEcReT" in line]


async def test_the_loop_never_waits_for_the_chat_server(
    bot_factory: BotFactory, hook: Hook
) -> None:
    hook.gate = asyncio.Event()  # the server holds every answer until the test opens the gate
    plugin = WebhookPlugin(fast(url_secret=f"{hook.url}/services/{TOKEN}"))
    bot = await bot_factory(plugins={"webhook": plugin})
    bot.ctx.hooks.on_daily_report(DailyReport(day="2024-05-01", files=(), summary=SUMMARY))
    async with asyncio.timeout(10):
        while not hook.received:  # noqa: ASYNC110 - the request is on its way
            await asyncio.sleep(0.01)
    assert plugin.deliveries == []  # the post is in flight; the emitter returned long ago
    assert len(plugin.tasks) == 1
    hook.gate.set()
    await asyncio.gather(*plugin.tasks)
    assert plugin.deliveries[0].ok


def test_disabled_by_default_and_its_secrets_stay_secret(tmp_path: Path) -> None:
    loaded = load_plugins(load_settings(use_files=False))
    (info,) = [i for i in loaded.infos if i.name == "webhook"]
    assert (info.source, info.enabled) == ("built-in", False)
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(
        f"default:\n  plugins:\n    webhook:\n      url_secret: https://hooks.example/{TOKEN}\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as refused:
        load_settings(settings_file)
    assert refused.value.key == "plugins.webhook.url_secret"
    assert "sEcReT" not in str(refused.value)
    settings = load_settings(
        use_files=False,
        overrides={"plugins": {"webhook": {"enabled": True, "url_secret": f"https://x/{TOKEN}"}}},
    )
    assert masked(settings.as_dict())["plugins"]["webhook"]["url_secret"] == "***"
    with pytest.raises(SettingsError) as missing:
        load_plugins(
            load_settings(use_files=False, overrides={"plugins": {"webhook": {"enabled": True}}})
        )
    assert missing.value.key == "plugins.webhook.url_secret"
