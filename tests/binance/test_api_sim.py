"""Order API, snapshot, id restore, secrets, a dead peer and the plugin in a real bot."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from aiohttp import web

from framework import hookimpl
from framework.loader import load_plugins
from framework.runtime import Bot
from framework.settings import load_settings
from framework.types import StreamState, StreamStatus, Tick
from plugins.binance import (
    BinanceAPIError,
    BinanceConfig,
    BinancePlugin,
    Endpoints,
    OrderNotFoundError,
)
from plugins.binance.decode import Kind, decode_user_event
from plugins.sim import parse_sim_settings
from plugins.sim.plugin import SimPlugin

from .conftest import HarnessFactory
from .helpers import FAST_CONFIG, Harness, make_connector, until
from .test_faults_sim import limit_buy, market_buy


async def test_place_query_cancel_by_client_order_id(harness: Harness) -> None:
    api = harness.connector
    placed = await api.place_order(limit_buy(harness), owner="grid1")
    cid = placed.client_order_id
    assert re.fullmatch(r"tl-grid1-[0-9a-z]{8}-1", cid)
    assert placed.status == "NEW"
    found = await api.query_order("BTCUSDT", cid)
    assert found is not None
    assert found.order_id == placed.order_id
    canceled = await api.cancel_order("BTCUSDT", cid)
    assert canceled.status == "CANCELED"
    again = await api.cancel_order("BTCUSDT", cid)  # already gone: returned as it is
    assert again.status == "CANCELED"
    never = api.ids.next("grid1")
    assert await api.query_order("BTCUSDT", never) is None
    with pytest.raises(OrderNotFoundError):
        await api.cancel_order("BTCUSDT", never)
    await until(lambda: any(o.status == "CANCELED" for o in harness.sink.orders))


async def test_rejections_are_typed_and_carry_code_and_message(harness: Harness) -> None:
    request = msgspec.structs.replace(limit_buy(harness), price=Decimal("1.23"))
    with pytest.raises(BinanceAPIError) as info:
        await harness.connector.place_order(request)
    assert info.value.code < 0
    assert info.value.msg
    assert info.value.status == 400


async def test_snapshot_matches_the_simulator(harness: Harness) -> None:
    await market_buy(harness)
    await harness.connector.place_order(limit_buy(harness), owner="s1")
    snapshot = await harness.connector.fetch_account_snapshot()
    truth = harness.sim.truth()
    usdt = next(b for b in snapshot.balances if b.asset == "USDT")
    assert usdt.wallet_balance == truth.balances["USDT"].wallet_balance
    assert usdt.available_balance is not None
    position = next(p for p in snapshot.positions if p.symbol == "BTCUSDT")
    assert position.amount == truth.positions["BTCUSDT"].amount
    assert [o.client_order_id for o in snapshot.open_orders] == [
        o.client_order_id for o in truth.open_orders
    ]
    assert snapshot.snapshot_time > 0
    assert snapshot.weight_used > 0


async def test_client_order_ids_of_a_restart_start_a_later_run(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(market_data=False)
    first = [
        (await h.connector.place_order(limit_buy(h), owner="s1")).client_order_id for _ in range(2)
    ]
    await h.connector.close()
    again, *_ = make_connector(h.sim, config=FAST_CONFIG)
    try:
        await again.start(market_data=False)  # reads the two open orders
        cid = again.ids.next("s1")
        assert cid not in first
        parsed, earlier = again.ids.parse(cid), again.ids.parse(first[0])
        assert parsed is not None
        assert earlier is not None
        assert parsed[1] > earlier[1]  # a later run
        assert again.owner_of(first[0]) == again.owner_of(cid) == "s1"
    finally:
        await again.close()


async def test_wrong_secret_never_leaks_into_errors(harness: Harness) -> None:
    secret = "wrong-secret-do-not-print-0123456789"
    bad, *_ = make_connector(harness.sim, config=FAST_CONFIG, api_secret=secret)
    try:
        await bad.rest.start()
        with pytest.raises(BinanceAPIError) as info:
            await bad.query_order("BTCUSDT", "tl-x-1")
        text = str(info.value) + repr(info.value) + repr(bad) + repr(bad.rest)
        assert info.value.code == -1022
        assert secret not in text
        assert "signature=" not in text
        assert harness.sim.settings.api_key not in text
    finally:
        await bad.close()


async def test_malformed_and_unknown_messages_are_counted_not_fatal(harness: Harness) -> None:
    user = harness.connector.user
    assert user is not None
    for raw in (
        b"{oops",
        b'{"e":"NEW_THING","E":1}',
        b'{"e":"ACCOUNT_UPDATE","E":1}',
        b'{"e":"TRADE_LITE","E":1}',
    ):
        user.handle(raw)
    market = harness.connector.markets[0]
    market.handle(b"\xff\xfe")
    market.handle(b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade"}}')
    events = harness.connector.stats()["events"]
    assert (events["malformed"], events["unknown"], events["ignored"]) == (3, 2, 1)
    await market_buy(harness)
    await until(lambda: bool(harness.sink.fills))  # the streams still work


async def test_a_failing_sink_does_not_stop_the_stream(harness: Harness) -> None:
    def boom(_: Any) -> bool:
        raise RuntimeError("cache bug")

    harness.sink.apply_balance = boom  # type: ignore[method-assign]
    await market_buy(harness)
    await until(lambda: bool(harness.sink.fills))
    assert harness.connector.counters.dispatch_errors >= 1


@pytest.fixture
async def dead_peer() -> AsyncIterator[str]:
    """A WebSocket server that accepts and then never sends, reads or answers a ping."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await asyncio.sleep(3600)
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"ws://127.0.0.1:{port}"
    await runner.cleanup()


async def test_no_message_and_no_pong_is_stale(dead_peer: str, harness: Harness) -> None:
    config = msgspec.structs.replace(FAST_CONFIG, stale_after=0.3, market_silence_after=0.0)
    connector, _, _, statuses = make_connector(harness.sim, config=config)
    connector.endpoints = Endpoints(harness.sim.rest_url, dead_peer, False)
    try:
        await connector.start(user_data=False)
        await until(lambda: connector.stats()["stream"]["stale"] >= 1)
        stale = [s for s in statuses if s.state is StreamState.STALE]
        assert "no pong" in stale[0].reason
    finally:
        await connector.close()


# -------------------------------------------------------------------------- the plugin


class Recorder:
    """A plugin that records ticks, stream states and account hooks."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.states: list[StreamStatus] = []
        self.fills = 0

    @hookimpl
    def on_tick(self, tick: Tick) -> None:
        self.ticks.append(tick)

    @hookimpl
    def on_stream_state(self, status: StreamStatus) -> None:
        self.states.append(status)

    @hookimpl
    def on_fill(self) -> None:
        self.fills += 1


async def test_the_sim_plugin_runs_the_exchange_the_connector_trades_on(tmp_path: Any) -> None:
    """The ``sim`` plugin starts the simulator before the connector (``start_priority``), hands
    it over through ``ctx.exchange_endpoint`` and stops it after the connector."""
    settings = load_settings(
        use_files=False,
        overrides={
            "runtime": {"data_dir": str(tmp_path)},
            "exchange": {"symbols": ["BTCUSDT"]},
            "strategies": [
                {
                    "id": "s1",
                    "use": "tests.binance.test_api_sim:Recorder",
                    "params": {},
                    "enabled": False,
                }
            ],
        },
    )
    recorder = Recorder()
    plugin = BinancePlugin(FAST_CONFIG)
    sim_plugin = SimPlugin(parse_sim_settings({"updates_per_second": 20}))
    loaded = load_plugins(
        settings,
        extra=[("binance", plugin), ("sim", sim_plugin), ("rec", recorder)],
        plugin_table={},
        strategy_table={},
    )
    assert loaded.order.index("sim") < loaded.order.index("binance")
    bot = Bot(settings, loaded)
    await bot.start()
    try:
        await until(lambda: len(recorder.ticks) >= 3)
        assert bot.ctx.exchange is plugin.connector
        sim = sim_plugin.exchange
        assert sim is not None
        endpoint = bot.ctx.exchange_endpoint
        assert endpoint is not None
        assert (endpoint.provider, endpoint.rest_url) == ("sim", sim.rest_url)
        assert "secret" not in repr(endpoint)
        assert sim.settings.symbols == ["BTCUSDT"]  # the subscribed symbols it lists
        await market_buy_via(bot)
        await until(lambda: recorder.fills >= 1)
        assert len(sim.engine.trades) == 1
    finally:
        summary = await bot.stop()
    assert sim_plugin.exchange is None
    assert bot.ctx.exchange_endpoint is None
    assert {"connects", "reconnects", "stale", "listen_key_renewals"} <= set(summary["stream"])
    assert {"ticks", "account_updates", "order_updates", "malformed", "unknown"} <= set(
        summary["events"]
    )
    assert summary["events"]["ticks"] >= 3
    assert {s.stream for s in recorder.states} == {"market", "user_data"}


async def market_buy_via(bot: Bot) -> None:
    from framework.types import OrderRequest

    await bot.ctx.exchange.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010"))
    )


def test_plugin_settings_are_declared_and_validated() -> None:
    assert BinancePlugin.declare_settings() is BinanceConfig
    settings = load_settings(use_files=False, overrides={"exchange": {"name": "binance_futures"}})
    from framework.errors import SettingsError

    with pytest.raises(SettingsError) as info:
        BinancePlugin().validate_settings(settings)
    assert info.value.key == "exchange.api_key"


def test_user_event_kinds_are_exported() -> None:
    assert decode_user_event(b"{}")[0] is Kind.MALFORMED
