"""The fixtures ``plugins.sim.testing`` gives plugin authors: sim_factory, sim_exchange, sim_bot."""

from __future__ import annotations

from decimal import Decimal

from framework import Fill, IntervalJob, ManualClock, OrderRequest, Tick, hookimpl
from plugins.binance import BinanceConnector
from plugins.sim import SimExchange
from plugins.sim.testing import SIM_TEST_DEFAULTS, SimBotFactory, SimFactory, until


class Recorder:
    """Counts what the bot delivers and how often its job ran."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.fills: list[Fill] = []
        self.runs = 0

    @hookimpl
    def on_tick(self, tick: Tick) -> None:
        self.ticks.append(tick)

    @hookimpl
    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    @hookimpl
    def register_jobs(self) -> list[IntervalJob]:
        return [IntervalJob(name="count", every=10, func=self.count)]

    def count(self) -> None:
        self.runs += 1


async def test_sim_exchange_runs_with_the_test_defaults(sim_exchange: SimExchange) -> None:
    assert sim_exchange.rest_url.startswith("http://127.0.0.1:")
    assert sim_exchange.settings.seed == SIM_TEST_DEFAULTS["seed"]
    assert sim_exchange.settings.updates_per_second == SIM_TEST_DEFAULTS["updates_per_second"]


async def test_sim_factory_takes_sim_settings(sim_factory: SimFactory) -> None:
    sim = await sim_factory(seed=3, balances={"USDT": "500"}, faults={"drop_user_events": 0.5})
    assert sim.settings.seed == 3
    assert sim.truth().balances["USDT"].wallet_balance == Decimal("500")
    assert sim.faults.drop_user_events == 0.5


async def test_sim_bot_trades_on_the_simulator(
    sim_exchange: SimExchange, sim_bot: SimBotFactory, manual_clock: ManualClock
) -> None:
    recorder = Recorder()
    bot = await sim_bot(plugins={"rec": recorder})
    assert bot.clock is manual_clock
    assert isinstance(bot.ctx.exchange, BinanceConnector)
    assert bot.loaded.order == ["binance", "rec"]
    await until(lambda: len(recorder.ticks) >= 3)

    request = OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010"))
    await bot.ctx.exchange.place_order(request)
    await until(lambda: recorder.fills)
    assert sim_exchange.truth().positions["BTCUSDT"].amount == Decimal("0.010")
    await until(lambda: bot.ctx.cache.position("BTCUSDT") is not None)

    await manual_clock.advance(30)
    assert recorder.runs == 3

    summary = await bot.stop()
    assert summary["events"]["ticks"] >= 3
    assert summary["jobs"]["rec.count"]["runs"] == 3


async def test_sim_bot_on_another_simulator_with_settings(
    sim_factory: SimFactory, sim_bot: SimBotFactory
) -> None:
    quiet = await sim_factory(updates_per_second=0, symbols=["ETHUSDT"])
    recorder = Recorder()
    bot = await sim_bot(
        plugins={"rec": recorder},
        overrides={"hooks": {"max_failures": 2}},
        sim=quiet,
        binance={"order_id_prefix": "abc"},
    )
    assert bot.settings.exchange.rest_url == quiet.rest_url
    assert bot.settings.exchange.symbols == ("ETHUSDT",)
    assert bot.settings.hooks.max_failures == 2
    await quiet.move_price("ETHUSDT", "3000")
    await until(lambda: recorder.ticks)
    assert recorder.ticks[0].symbol == "ETHUSDT"
    order = await bot.ctx.exchange.place_order(
        OrderRequest(symbol="ETHUSDT", side="SELL", type="MARKET", quantity=Decimal("0.1"))
    )
    assert order.client_order_id.startswith("abc-")


async def test_sim_bot_can_leave_the_bot_unstarted(sim_bot: SimBotFactory) -> None:
    bot = await sim_bot(start=False)
    assert not bot.running


async def test_sim_bot_with_the_installed_plugins(
    sim_exchange: SimExchange, sim_bot: SimBotFactory
) -> None:
    recorder = Recorder()
    bot = await sim_bot(
        plugins={"rec": recorder},
        overrides={"plugins": {"smart_logging": {"enabled": False}}},
        binance={"order_id_prefix": "ep"},
        entry_points=True,
    )
    info = bot.loaded.info("binance")
    assert info is not None
    assert info.source == "built-in"
    assert "smart_logging" not in bot.loaded.order
    connector = bot.ctx.exchange
    assert isinstance(connector, BinanceConnector)
    assert connector.endpoints.rest_url == sim_exchange.rest_url
    await until(lambda: recorder.ticks)
    order = await connector.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010"))
    )
    assert order.client_order_id.startswith("ep-")
