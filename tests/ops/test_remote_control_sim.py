"""Remote control over HTTP: a real bot on the simulator, asked over loopback sockets with a
bearer token; every command journaled with who sent it, never the token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from framework import ManualClock
from framework.errors import SettingsError
from framework.runtime import Bot
from framework.types import OrderRequest
from plugins.http import HttpPlugin, HttpSettings
from plugins.journal import Journal
from plugins.reconciliation import ReconciliationPlugin
from plugins.sim.exchange import SimExchange
from plugins.sim.testing import SimBotFactory, until
from tests.ops.test_http_sim import samples
from tests.reconciliation.helpers import drive
from tests.reconciliation.helpers import recon as quiet_recon

TOKEN = "c0ntr0l-t0ken-never-shown-0123456789abcdef"
LABEL = "ops-laptop"
STRATEGY = {"strategies": [{"id": "a", "use": "tests.strategy.doubles:Recorder"}]}


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def start(
    sim_bot: SimBotFactory,
    *,
    token: str = TOKEN,
    sim: SimExchange | None = None,
    journal: Journal | None = None,
) -> tuple[Bot, HttpPlugin, ReconciliationPlugin, str]:
    http = HttpPlugin(HttpSettings(port=0, control_token=token, control_label=LABEL))
    recon = quiet_recon()
    plugins: dict[str, object] = {"reconciliation": recon, "http": http}
    if journal is not None:
        plugins["journal"] = journal
    bot = await sim_bot(plugins=plugins, overrides=STRATEGY, sim=sim)
    await until(lambda: recon.stats.runs >= 1 and bot.ctx.trading_held == "")
    assert http.port
    return bot, http, recon, f"http://127.0.0.1:{http.port}"


async def send(
    client: aiohttp.ClientSession,
    base: str,
    command: str,
    *,
    token: str | None = TOKEN,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with client.post(
        base + "/api/control", json={"command": command}, headers=headers
    ) as resp:
        return resp.status, await resp.json()


async def test_without_a_token_there_is_no_control_endpoint(
    sim_bot: SimBotFactory, client: aiohttp.ClientSession
) -> None:
    _, _, _, base = await start(sim_bot, token="")
    status, body = await send(client, base, "stop")
    assert status == 404
    assert body == {"error": "Not Found", "status": 404}
    async with client.get(base + "/api/status") as resp:
        assert resp.status == 200  # the read-only API is there


async def test_a_missing_or_wrong_token_is_401_counted_and_never_shown(
    sim_bot: SimBotFactory, client: aiohttp.ClientSession, log_lines: list[str]
) -> None:
    bot, http, _, base = await start(sim_bot)
    attempts: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
    ]
    for headers in attempts:
        async with client.post(
            base + "/api/control", json={"command": "stop"}, headers=headers
        ) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert TOKEN not in await resp.text()
    assert bot.running  # nothing ran
    assert not bot.ctx.stop_reason
    async with client.get(base + "/metrics") as resp:
        got = samples(await resp.text())
    assert got[("tradeloop_http_unauthorized_total", ())] == len(attempts)
    assert http.control.unauthorized == len(attempts)
    assert not any(TOKEN in line for line in log_lines)


async def test_status_balance_and_positions_answer_from_the_cache(
    sim_bot: SimBotFactory, sim_exchange: SimExchange, client: aiohttp.ClientSession
) -> None:
    bot, _, _, base = await start(sim_bot)
    await sim_exchange.place_order("BTCUSDT", "BUY", "0.010")
    await until(lambda: bool(bot.ctx.cache.positions))

    status, body = await send(client, base, "status")
    assert status == 200
    assert body["ok"] is True
    assert body["data"]["trading_held"] == ""
    assert body["data"]["strategies"]["a"]["state"] == "running"
    assert "strategy a: running" in body["text"]

    status, body = await send(client, base, "balance")
    usdt = bot.ctx.cache.balances["USDT"]
    assert status == 200
    assert {"asset": "USDT", "wallet_balance": str(usdt.wallet_balance)}.items() <= next(
        row for row in body["data"]["balances"] if row["asset"] == "USDT"
    ).items()

    status, body = await send(client, base, "/positions")  # Telegram-style slash works too
    assert status == 200
    [row] = body["data"]["positions"]
    assert row["symbol"] == "BTCUSDT"
    assert Decimal(row["amount"]) == Decimal("0.010")


async def test_pause_and_resume_one_strategy_instance(
    sim_bot: SimBotFactory, client: aiohttp.ClientSession
) -> None:
    bot, _, _, base = await start(sim_bot)
    status, body = await send(client, base, "pause a")
    assert (status, body["ok"]) == (200, True)
    assert bot.ctx.strategy_paused_by("a") == "operator"
    assert f"http:{LABEL}" in bot.ctx.strategy_paused("a")
    async with client.get(base + "/api/strategies") as resp:
        listed = (await resp.json())["strategies"]["a"]
    assert (listed["state"], listed["paused_by"]) == ("paused", "operator")

    status, body = await send(client, base, "pause nope")
    assert status == 409
    assert "no strategy instance 'nope'" in body["error"]
    assert "instances: a" in body["error"]

    status, body = await send(client, base, "resume a")
    assert (status, body["ok"]) == (200, True)
    assert bot.ctx.strategy_paused("a") == ""


async def test_malformed_commands_get_a_clear_400(
    sim_bot: SimBotFactory, client: aiohttp.ClientSession
) -> None:
    bot, _, _, base = await start(sim_bot)
    cases = {
        "dance": "unknown command 'dance'",
        "pause": "usage: pause <strategy>",
        "status now": "usage: status",
        "": "empty command",
        "x" * 500: "longer than",
        "pause\x00a": "control characters",
    }
    for command, error in cases.items():
        status, body = await send(client, base, command)
        assert status == 400, command
        assert error in body["error"], command
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bodies: list[tuple[dict[str, str], bytes, int, str]] = [
        ({"Content-Type": "text/plain"}, b"status", 400, "send JSON"),
        ({"Content-Type": "application/json"}, b"{not json", 400, "not valid JSON"),
        ({"Content-Type": "application/json"}, b'["status"]', 400, '"command" string'),
        ({"Content-Type": "application/json"}, b'{"command": 7}', 400, '"command" string'),
        ({"Content-Type": "application/json"}, b'{"command": "' + b"x" * 20000 + b'"}', 413, ""),
    ]
    for headers, data, want, error in bodies:
        async with client.post(
            base + "/api/control", data=data, headers={**auth, **headers}
        ) as resp:
            assert resp.status == want, data[:20]
            assert error in (await resp.json())["error"]
    async with client.get(base + "/api/control", headers=auth) as resp:
        assert resp.status == 405
    assert bot.running  # nothing a client sent took the bot down


async def test_flatten_needs_the_code_it_gave_within_its_bound(
    sim_bot: SimBotFactory,
    sim_exchange: SimExchange,
    manual_clock: ManualClock,
    client: aiohttp.ClientSession,
) -> None:
    bot, _, _, base = await start(sim_bot)
    await bot.ctx.exchange.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010")),
        owner="a",
    )
    await until(lambda: bool(bot.ctx.cache.positions))

    status, body = await send(client, base, "flatten 123456")
    assert status == 409
    assert "send flatten first" in body["error"]

    _, body = await send(client, base, "flatten")
    code = body["data"]["confirm"]
    assert f"flatten {code}" in body["text"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    status, body = await send(client, base, f"flatten {wrong}")
    assert status == 409
    assert "wrong confirmation code" in body["error"]
    status, body = await send(client, base, f"flatten {code}")  # one attempt per code
    assert status == 409

    _, body = await send(client, base, "flatten")
    code = body["data"]["confirm"]
    await manual_clock.advance(61)
    status, body = await send(client, base, f"flatten {code}")
    assert status == 409
    assert "expired" in body["error"]
    assert any(p.amount for p in sim_exchange.truth().positions.values())

    _, body = await send(client, base, "flatten")
    status, body = await send(client, base, f"flatten {body['data']['confirm']}")
    assert status == 200, body
    assert body["ok"] is True
    assert body["data"]["closed"][0]["symbol"] == "BTCUSDT"
    assert not any(p.amount for p in sim_exchange.truth().positions.values())


async def test_reconcile_runs_now_through_the_hook(
    sim_factory: Any,
    sim_bot: SimBotFactory,
    manual_clock: ManualClock,
    client: aiohttp.ClientSession,
) -> None:
    sim = await sim_factory(clock=manual_clock.time)
    _, _, recon, base = await start(sim_bot, sim=sim)
    runs = recon.stats.runs
    asked = asyncio.ensure_future(send(client, base, "reconcile"))
    await drive(recon, manual_clock, asked.done)
    status, body = await asked
    assert status == 200, body
    assert body["data"]["status"] == "ok"
    assert body["text"].startswith("reconcile ok: 0 mismatches")
    assert recon.stats.runs == runs + 1
    assert recon.stats.last_reason == f"manual: http:{LABEL}"


async def test_every_command_is_journaled_with_who_sent_it_and_stop_stops(
    sim_bot: SimBotFactory, client: aiohttp.ClientSession
) -> None:
    journal = Journal()
    bot, _, _, base = await start(sim_bot, journal=journal)
    await send(client, base, "pause a")
    await send(client, base, "dance")
    await send(client, base, "flatten")
    status, body = await send(client, base, "stop")
    assert (status, body["text"]) == (200, "stopping the bot (graceful shutdown)")
    assert bot.ctx.stop_reason == f"remote stop (http:{LABEL})"
    await bot.stop()  # what ``Bot.run`` does once a stop is requested

    store = journal.store  # the journal stopped after writing what it had
    await store.open()
    try:
        rows = await store.commands(0, 2**62)
    finally:
        await store.close()
    assert [(r.source, r.identity, r.command, r.ok) for r in rows] == [
        ("http", LABEL, "pause", True),
        ("http", LABEL, "", False),
        ("http", LABEL, "flatten", True),
        ("http", LABEL, "stop", True),
    ]
    assert rows[0].args == ["a"]
    assert "paused" in rows[0].outcome
    assert "unknown command 'dance'" in rows[1].outcome
    assert all(TOKEN not in str(r) for r in rows)


@pytest.mark.parametrize("token", ["short-token", "sixteen chars ok", "tab\tseparated-token-value"])
def test_a_weak_token_is_a_settings_error_that_never_shows_it(token: str) -> None:
    with pytest.raises(SettingsError, match=r"plugins\.http\.control_token") as caught:
        HttpPlugin(HttpSettings(control_token=token))
    assert token not in str(caught.value)


async def test_a_secret_pasted_into_a_command_is_never_echoed_or_journaled(
    sim_bot: SimBotFactory, sim_exchange: SimExchange, client: aiohttp.ClientSession
) -> None:
    journal = Journal()
    bot, _, _, base = await start(sim_bot, journal=journal)
    api_secret = sim_exchange.settings.api_secret
    for command in (TOKEN, f"pause {TOKEN}", f"pause {api_secret}"):
        status, body = await send(client, base, command)
        assert status in (400, 409)
        for secret in (TOKEN, api_secret):
            assert secret[:12] not in str(body)
    await bot.stop()
    store = journal.store
    await store.open()
    try:
        rows = await store.commands(0, 2**62)
    finally:
        await store.close()
    assert len(rows) == 3
    assert rows[1].args == ["***"]
    for secret in (TOKEN, api_secret):
        assert secret[:12] not in str(rows)
