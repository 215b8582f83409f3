"""The http plugin in a real bot on the simulator, asked over real loopback sockets."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from framework import BotContext, ManualClock, Tick, hookimpl
from framework.runtime import Bot
from plugins.http import HttpPlugin, HttpSettings
from plugins.reconciliation import ReconciliationPlugin
from plugins.sim.exchange import SimExchange
from plugins.sim.testing import SimBotFactory, SimFactory, until
from tests.reconciliation.helpers import Probe, reconcile
from tests.reconciliation.helpers import recon as quiet_recon

STALE_AFTER = 1.0  # the connector's stale bound in these tests (FAST_BINANCE)
SECRET = "s3cr3t-api-secret-never-shown-0123456789abcdef0123456789abcdef"
API_KEY = "k3y-api-key-never-shown-0123456789abcdef0123456789abcdef0123"


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def start(
    sim_bot: SimBotFactory,
    sim: SimExchange | None = None,
    extra: dict[str, object] | None = None,
    overrides: dict[str, Any] | None = None,
    **settings: Any,
) -> tuple[Bot, HttpPlugin, ReconciliationPlugin, str]:
    http = HttpPlugin(HttpSettings(port=0, stream_down_after=STALE_AFTER, **settings))
    recon = quiet_recon()
    plugins = {"reconciliation": recon, "http": http, **(extra or {})}
    bot = await sim_bot(plugins=plugins, overrides=overrides, sim=sim)
    await until(lambda: recon.stats.runs >= 1 and bot.ctx.trading_held == "")
    assert http.port
    return bot, http, recon, f"http://127.0.0.1:{http.port}"


async def get(client: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with client.get(url) as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` from a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_read_the_bot_at_scrape_time(
    sim_bot: SimBotFactory, sim_exchange: SimExchange, client: aiohttp.ClientSession
) -> None:
    bot, _, recon, base = await start(sim_bot)
    await sim_exchange.place_order("BTCUSDT", "BUY", "0.010")
    cache = bot.ctx.cache
    await until(lambda: cache.fill_count >= 1 and cache.positions and bot.ctx.last_ticks)

    async with client.get(base + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        got = samples(await resp.text())

    assert got[("tradeloop_healthy", ())] == 1
    assert got[("tradeloop_ready", ())] == 1
    assert got[("tradeloop_stream_up", (("stream", "user_data"),))] == 1
    assert got[("tradeloop_stream_connects_total", (("stream", "user_data"),))] >= 1
    assert ("tradeloop_stream_reconnects_total", (("stream", "user_data"),)) in got
    assert got[("tradeloop_stream_messages_total", (("kind", "ticks"),))] >= 1
    assert ("tradeloop_tick_age_seconds", (("symbol", "BTCUSDT"),)) in got
    assert got[("tradeloop_rest_weight_limit", ())] == 2400
    assert got[("tradeloop_rest_governor_state", (("state", "ok"),))] == 1
    assert got[("tradeloop_rest_governor_state", (("state", "banned"),))] == 0
    assert got[("tradeloop_reconcile_runs_total", ())] == recon.stats.runs
    assert got[("tradeloop_reconcile_duration_seconds_count", ())] == recon.stats.runs
    assert ("tradeloop_reconcile_last_good_age_seconds", ()) in got
    assert got[("tradeloop_hook_calls_total", (("hook", "on_tick"),))] >= 1
    assert got[("tradeloop_fills_total", ())] == bot.ctx.cache.fill_count
    usdt = bot.ctx.cache.balances["USDT"]
    assert got[("tradeloop_balance", (("asset", "USDT"),))] == float(usdt.wallet_balance)
    assert ("tradeloop_equity", (("asset", "USDT"),)) in got
    assert got[("tradeloop_fees", (("asset", "USDT"),))] > 0
    pnl = bot.ctx.cache.realized_pnl["BTCUSDT"]  # kept per symbol, labelled so
    assert got[("tradeloop_realized_pnl", (("symbol", "BTCUSDT"),))] == float(pnl)
    assert got[("tradeloop_position_amount", (("side", "BOTH"), ("symbol", "BTCUSDT")))] == 0.01
    # only tradeloop's own metrics: a dedicated registry, no process or GC collectors
    assert all(name.startswith("tradeloop_") for name, _ in got)


async def test_a_blocked_loop_shows_in_the_event_loop_metrics(
    sim_bot: SimBotFactory, client: aiohttp.ClientSession
) -> None:
    runtime = {"loop_check_interval": 0.05, "loop_stall_warning": 0.3}
    bot, _, _, base = await start(sim_bot, overrides={"runtime": runtime})
    stalls_before = bot.watchdog.stalls
    time.sleep(0.5)  # noqa: ASYNC251 - the point: a synchronous call blocks the loop
    await until(lambda: bot.watchdog.stalls > stalls_before)

    _, text = await get(client, base + "/metrics")
    got = samples(text)
    assert got[("tradeloop_event_loop_stalls_total", ())] >= stalls_before + 1
    # the watchdog slept at most 0.05 s of the 0.5 s block before it: at least 0.45 s late
    assert got[("tradeloop_event_loop_longest_stall_seconds", ())] >= 0.45
    assert got[("tradeloop_event_loop_lag_max_seconds", ())] >= 0.45
    assert got[("tradeloop_event_loop_stalled_seconds_total", ())] >= 0.45
    assert got[("tradeloop_event_loop_lag_seconds", ())] >= 0


async def test_drift_is_counted_by_kind(
    sim_factory: SimFactory,
    sim_bot: SimBotFactory,
    manual_clock: ManualClock,
    client: aiohttp.ClientSession,
) -> None:
    sim = await sim_factory(clock=manual_clock.time)
    bot, _, recon, base = await start(sim_bot, sim=sim)
    sim.set_faults(drop_user_events=1.0)  # the cache misses the trade
    await sim.place_order("BTCUSDT", "BUY", "0.010")
    result = await reconcile(bot, recon, manual_clock, sim)
    assert result.mismatches

    _, text = await get(client, base + "/metrics")
    got = samples(text)
    for kind in {m.kind for m in result.mismatches}:
        found = sum(1 for m in result.mismatches if m.kind == kind)
        assert got[("tradeloop_drift_found_total", (("kind", kind),))] == found
        fixed = sum(1 for m in result.mismatches if m.kind == kind and m.repaired)
        assert got.get(("tradeloop_drift_repaired_total", (("kind", kind),)), 0) == fixed
    status, body = await get(client, base + "/api/reconciles")
    assert status == 200
    assert body["reconciles"][-1]["mismatches"]


async def test_health_fails_within_the_stale_bound_when_the_user_stream_dies(
    sim_factory: SimFactory,
    sim_bot: SimBotFactory,
    manual_clock: ManualClock,
    client: aiohttp.ClientSession,
) -> None:
    sim = await sim_factory(clock=manual_clock.time)
    _, http, _, base = await start(sim_bot, sim=sim)
    assert await get(client, base + "/health") == (200, {"healthy": True, "reasons": []})

    # the stream's connections are cut and every reconnect fails: the user stream is dead
    sim.set_faults(disconnect_every=0.001)
    await sim.stop()
    await until(lambda: not http.observed.streams["user_data"].up)
    status, body = await get(client, base + "/health")
    assert status == 200  # down for less than the bound: a reconnect may still succeed

    await manual_clock.advance(STALE_AFTER / 2)
    assert (await get(client, base + "/health"))[0] == 200
    await manual_clock.advance(STALE_AFTER / 2)  # the bound: twice the stale bound at most
    status, body = await get(client, base + "/health")
    assert status == 503
    assert body["healthy"] is False
    # closed or gone silent (under load the watchdog may see silence first): either fails it
    dead = re.compile(r"stream user_data (disconnected|stale) for 1\.0 s \(bound 1 s\)")
    assert any(dead.match(r) for r in body["reasons"]), body
    _, text = await get(client, base + "/metrics")
    got = samples(text)
    assert got[("tradeloop_stream_up", (("stream", "user_data"),))] == 0
    assert got[("tradeloop_healthy", ())] == 0


async def test_health_reports_an_overdue_reconcile(
    sim_bot: SimBotFactory, manual_clock: ManualClock, client: aiohttp.ClientSession
) -> None:
    _, _, _, base = await start(sim_bot, reconcile_overdue_after=30.0)
    assert (await get(client, base + "/health"))[0] == 200
    await manual_clock.advance(30.0)
    status, body = await get(client, base + "/health")
    assert status == 503
    assert body["reasons"] == ["reconcile overdue: last good reconcile 30.0 s ago (bound 30 s)"]


class Broken:
    """A plugin whose tick handler always raises: the circuit breaker disables it."""

    @hookimpl
    def on_tick(self, ctx: BotContext, tick: Tick) -> None:
        raise RuntimeError("broken on purpose")


async def test_health_reports_a_disabled_plugin(
    sim_bot: SimBotFactory, client: aiohttp.ClientSession
) -> None:
    bot, _, _, base = await start(sim_bot, extra={"broken": Broken()})
    await until(lambda: bot.bus.is_disabled("broken"))
    status, body = await get(client, base + "/health")
    assert status == 503
    assert body["reasons"] == ["plugin broken disabled: 5 failures in a row, last in on_tick"]
    got = samples((await get(client, base + "/metrics"))[1])
    assert got[("tradeloop_plugin_disabled", (("plugin", "broken"),))] == 1
    assert got[("tradeloop_plugin_failures_total", (("plugin", "broken"),))] == 5


async def test_ready_follows_the_strategy_hold(
    sim_bot: SimBotFactory, client: aiohttp.ClientSession
) -> None:
    bot, _, _, base = await start(sim_bot)
    assert await get(client, base + "/ready") == (200, {"ready": True, "reasons": []})
    release = bot.ctx.hold_strategies("maintenance")
    assert await get(client, base + "/ready") == (
        503,
        {"ready": False, "reasons": ["strategies held: maintenance"]},
    )
    release()
    assert (await get(client, base + "/ready"))[0] == 200


async def test_the_json_api_keeps_money_exact(
    sim_bot: SimBotFactory, sim_exchange: SimExchange, client: aiohttp.ClientSession
) -> None:
    bot, _, _, base = await start(sim_bot, extra={"strategy:probe": Probe()})
    quote = sim_exchange.engine.quote("ETHUSDT")
    await sim_exchange.place_order("BTCUSDT", "BUY", "0.010")
    await sim_exchange.place_order(
        "ETHUSDT", "BUY", "0.02", order_type="LIMIT", price=quote.bid - 10
    )
    cache = bot.ctx.cache
    await until(lambda: cache.fill_count >= 1 and cache.positions and cache.open_orders)

    _, body = await get(client, base + "/api/balances")
    (usdt,) = [b for b in body["balances"] if b["asset"] == "USDT"]
    assert usdt["wallet_balance"] == str(cache.balances["USDT"].wallet_balance)
    assert Decimal(usdt["equity"]) > 0
    _, body = await get(client, base + "/api/positions")
    (pos,) = body["positions"]
    assert (pos["symbol"], pos["amount"]) == ("BTCUSDT", "0.010")
    _, body = await get(client, base + "/api/orders")
    (order,) = body["orders"]
    assert (order["symbol"], order["orig_qty"], order["status"]) == ("ETHUSDT", "0.020", "NEW")
    _, body = await get(client, base + "/api/fills")
    assert body["fills"][0]["qty"] == "0.010"
    assert isinstance(body["fills"][0]["price"], str)
    _, body = await get(client, base + "/api/reconciles")
    assert body["reconciles"][0]["reason"] == "startup"
    _, body = await get(client, base + "/api/strategies")
    assert body == {
        "strategies": {"probe": {"state": "running", "paused_by": "", "reason": "", "orders": {}}}
    }
    status, body = await get(client, base + "/api/status")
    assert status == 200
    assert (body["healthy"], body["ready"], body["open_orders"]) == (True, True, 1)
    assert body["streams"]["user_data"]["state"] == "connected"
    assert body["rest"]["governor"] == "ok"
    assert body["reconcile"]["runs"] >= 1


async def test_bad_requests_get_clear_errors_and_the_bot_goes_on(
    sim_bot: SimBotFactory, client: aiohttp.ClientSession
) -> None:
    bot, _, _, base = await start(sim_bot)
    assert await get(client, base + "/nope") == (404, {"error": "Not Found", "status": 404})
    assert (await get(client, base + "/api/status/extra"))[0] == 404
    async with client.post(base + "/api/status", data=b"x") as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET"
    async with client.get(base + "/health", headers={"X-Big": "x" * 10_000}) as resp:
        assert resp.status == 400  # header fields are bounded
    async with client.get(base + "/" + "a" * 10_000) as resp:
        assert resp.status in (400, 414)  # so is the request line
    assert (await get(client, base + "/health"))[0] == 200
    assert bot.running


async def test_no_response_carries_a_secret(
    sim_factory: SimFactory, sim_bot: SimBotFactory, client: aiohttp.ClientSession
) -> None:
    sim = await sim_factory(api_key=API_KEY, api_secret=SECRET)
    bot, _, _, base = await start(sim_bot, sim=sim)
    assert bot.settings.exchange.api_secret == SECRET  # the bot does hold them
    await sim.place_order("BTCUSDT", "BUY", "0.010")
    await until(lambda: bot.ctx.cache.fill_count >= 1)
    paths = ["/metrics", "/health", "/ready", "/nope"]
    paths += [f"/api/{p}" for p in ("status", "balances", "positions", "orders", "fills")]
    paths += ["/api/reconciles", "/api/strategies"]
    for path in paths:
        async with client.get(base + path) as resp:
            raw = await resp.text()
        assert SECRET not in raw, path
        assert API_KEY not in raw, path
