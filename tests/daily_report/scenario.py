"""A day of trading on the simulator with a controlled clock: two runs of the bot on one journal
(a restart), stream disconnects, a plugin error, a log flood and, when the reconciliation
plugin is installed, injected drift. Used by the tests and by ``python -m
tests.daily_report.scenario DIR`` (the sample report of docs/reporting.md).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import msgspec
from loguru import logger

from framework import DailyReport, Fill, ManualClock, ReconcileResult, hookimpl
from framework.testing import BotFactory, HookRecorder
from plugins.daily_report import DailyReportPlugin, DailyReportSettings
from plugins.journal import Journal, JournalSettings
from plugins.sim import SimExchange
from plugins.sim.exchange import Truth
from plugins.smart_logging import SmartLogging, SmartLoggingSettings
from tests.reporting_support import DAY, DAY_START, SimBot, start_bot, start_sim, until

FLOOD = 40  # identical warnings per run: one written, the rest suppressed


class FailsOnFirstFill:
    """A plugin with a bug: its first ``on_fill`` raises (a real plugin error for the bus)."""

    def __init__(self) -> None:
        self.fills = 0

    @hookimpl
    def on_fill(self, fill: Fill) -> None:
        self.fills += 1
        if self.fills == 1:
            raise RuntimeError(f"cannot handle fill {fill.trade_id}")


def flood() -> None:
    """``FLOOD`` warnings from one call site and key: smart_logging suppresses all but one."""
    for i in range(FLOOD):
        logger.bind(log_key="flood").warning("spread too wide ({})", i)


def reconciliation_factory() -> Callable[[], object] | None:
    """The installed ``reconciliation`` plugin (another engineer's), if there is one yet."""
    found = [ep for ep in entry_points(group="tradeloop.plugins") if ep.name == "reconciliation"]
    if not found:
        return None
    cls: Any = found[0].load()
    schema = cls.declare_settings() if hasattr(cls, "declare_settings") else None

    def make() -> object:
        return cls(msgspec.convert({}, schema)) if schema is not None else cls()

    return make


def price(sim: SimExchange, symbol: str, factor: str) -> str:
    """The mid price times ``factor``, on the symbol's tick."""
    quote = sim.engine.quote(symbol)
    tick = sim.engine.specs[symbol].tick_size
    mid = (quote.bid + quote.ask) / 2
    return str((mid * Decimal(factor) / tick).to_integral_value() * tick)


@dataclass
class Day:
    """What happened, for checking the report against the simulator."""

    sim: SimExchange
    clock: ManualClock
    data_dir: Path
    reports: Path
    runs: list[SimBot] = field(default_factory=list)
    recorders: list[HookRecorder] = field(default_factory=list)
    run_windows: list[tuple[float, float]] = field(default_factory=list)
    truth_at_start: Truth | None = None
    truth_at_end: Truth | None = None
    report: DailyReport | None = None
    drift_order_id: int | None = None
    with_reconciliation: bool = False

    def hooks(self, name: str) -> list[dict[str, Any]]:
        """Every call of a notification hook, over both runs."""
        return [call for r in self.recorders for call in r.of(name)]

    @property
    def reconciles(self) -> list[ReconcileResult]:
        """Every reconcile result emitted during the day."""
        return [c["result"] for c in self.hooks("on_reconcile_result")]


def plugins_for(day: Day, reconciliation: Callable[[], object] | None) -> dict[str, object]:
    """A fresh set of plugin objects for one run (a restart builds new ones)."""
    plugins: dict[str, object] = {
        "smart_logging": SmartLogging(SmartLoggingSettings()),
        "journal": Journal(JournalSettings(sample_every=900)),
        "daily_report": DailyReportPlugin(DailyReportSettings(dir=str(day.reports))),
        "buggy": FailsOnFirstFill(),
    }
    if reconciliation is not None:
        plugins["reconciliation"] = reconciliation()
    return plugins


async def run_day(bot_factory: BotFactory, tmp: Path, *, drift: bool = False) -> AsyncIterator[Day]:
    """Build the day; yields once the report of 2024-05-01 was written (bots still running)."""
    reconciliation = reconciliation_factory() if drift else None
    if drift and reconciliation is None:
        raise RuntimeError("the reconciliation plugin is not installed")
    clock = ManualClock(DAY_START + 60)
    sim = await start_sim(clock)
    day = Day(sim, clock, tmp / "data", tmp / "reports", with_reconciliation=drift)
    day.truth_at_start = sim.truth()
    try:
        await _first_run(day, bot_factory, reconciliation)
        await clock.advance(1800)  # the bot is down for half an hour
        await _second_run(day, bot_factory, reconciliation)
        yield day
    finally:
        for run in day.runs:
            if run.bot.running:
                await run.bot.stop()
        await sim.stop()


async def _start(
    day: Day, bot_factory: BotFactory, reconciliation: Callable[[], object] | None
) -> SimBot:
    recorder = HookRecorder()
    day.recorders.append(recorder)
    run = await start_bot(
        bot_factory,
        day.sim,
        day.clock,
        day.data_dir,
        plugins_for(day, reconciliation),
        recorder=recorder,
    )
    day.runs.append(run)
    if reconciliation is not None:
        await advance_until(day.clock, lambda: bool(day.hooks("on_reconcile_result")))
    return run


async def _first_run(
    day: Day, bot_factory: BotFactory, reconciliation: Callable[[], object] | None
) -> None:
    sim, clock = day.sim, day.clock
    started = clock.time()
    run = await _start(day, bot_factory, reconciliation)
    await run.order("BTCUSDT", "BUY", "0.050")
    await clock.advance(3600)
    await run.move("BTCUSDT", price(sim, "BTCUSDT", "1.01"))
    await run.order("ETHUSDT", "BUY", "0.500")
    await clock.advance(1800)
    await run.order("BTCUSDT", "SELL", "0.020", price=price(sim, "BTCUSDT", "1.02"))
    await clock.advance(1200)
    await run.move("BTCUSDT", price(sim, "BTCUSDT", "1.025"))  # the resting sell fills (maker)
    flood()
    await clock.advance(4 * 3600)
    await run.bot.stop()
    day.run_windows.append((started, clock.time()))


async def _second_run(
    day: Day, bot_factory: BotFactory, reconciliation: Callable[[], object] | None
) -> None:
    sim, clock = day.sim, day.clock
    started = clock.time()
    run = await _start(day, bot_factory, reconciliation)
    flood()
    await run.order("BTCUSDT", "SELL", "0.010")
    await clock.advance(2 * 3600)
    await run.move("ETHUSDT", price(sim, "ETHUSDT", "0.98"))
    await _disconnect(run)
    await clock.advance(3600)
    if reconciliation is not None:
        await _inject_drift(day, run)
    await run.order("ETHUSDT", "SELL", "0.200")
    await clock.advance(3 * 3600)
    await run.move("BTCUSDT", price(sim, "BTCUSDT", "0.995"))
    reporter = run.plugins["daily_report"]
    assert isinstance(reporter, DailyReportPlugin)
    await clock.advance(DAY_START + DAY - clock.time())  # midnight: the report job runs
    await until(lambda: bool(reporter.written), within=30)
    day.report = reporter.written[-1]
    day.truth_at_end = sim.truth()
    day.run_windows.append((started, clock.time()))


async def _disconnect(run: SimBot) -> None:
    """Drop every stream connection once (TCP abort), wait for the reconnects."""
    connector = run.binance.connector
    assert connector is not None
    before = run.sim.fault_counts().get("disconnect_every", 0)
    run.sim.set_faults(disconnect_every=0.05)
    await until(lambda: run.sim.fault_counts().get("disconnect_every", 0) >= before + 2)
    run.sim.set_faults(disconnect_every=0.0)
    await until(lambda: connector.stats()["stream"]["reconnects"] >= 2)
    await connector.wait_connected()
    await asyncio.sleep(0.2)  # let a late abort of the same sweep be announced too
    await run.settled()


async def _inject_drift(day: Day, run: SimBot) -> None:
    """The exchange accepts an order whose events never reach the bot; reconciliation finds
    it on its next scheduled run and repairs the cache."""
    sim = day.sim
    sim.set_faults(drop_user_events=1.0)
    placed = await sim.place_order(
        "ETHUSDT",
        "BUY",
        "0.100",
        order_type="LIMIT",
        price=price(sim, "ETHUSDT", "0.95"),
        client_order_id="drift-1",
    )
    day.drift_order_id = int(placed["orderId"])
    sim.set_faults(drop_user_events=0.0)
    await day.clock.advance(900)  # the reconcile interval (default 900 s)
    order = str(day.drift_order_id)

    def repaired() -> bool:
        return any(order in m.key for r in day.reconciles for m in r.mismatches if m.repaired)

    # Reconciliation re-checks a suspect after ``confirm_delay`` on the bot's clock.
    await advance_until(day.clock, repaired)
    await run.settled()


async def advance_until(clock: ManualClock, predicate: Callable[[], bool]) -> None:
    """Move the clock a second at a time (letting I/O finish) until ``predicate`` holds."""
    async with asyncio.timeout(30):
        while not predicate():
            await clock.advance(1)
            await asyncio.sleep(0.02)


def main() -> None:  # pragma: no cover - the docs sample generator
    """Write the sample report of docs/reporting.md into DIR."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--drift", action="store_true", help="with the reconciliation plugin")
    args = parser.parse_args()
    asyncio.run(_sample(args.dir, args.drift))


async def _sample(out: Path, drift: bool) -> None:  # pragma: no cover
    import shutil
    import tempfile

    from framework.loader import load_plugins
    from framework.runtime import Bot
    from framework.settings import load_settings

    async def make(
        overrides: Any = None, *, plugins: Any = None, clock: Any = None, start: bool = True
    ) -> Bot:
        settings = load_settings(use_files=False, overrides=overrides)
        loaded = load_plugins(settings, extra=list((plugins or {}).items()), plugin_table={})
        bot = Bot(settings, loaded, clock=clock)
        if start:
            await bot.start()
        return bot

    def copy(files: tuple[str, ...]) -> None:
        out.mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copy(path, out / Path(path).name)
            print(out / Path(path).name)

    with tempfile.TemporaryDirectory() as tmp:
        async for day in run_day(make, Path(tmp), drift=drift):  # type: ignore[arg-type]
            assert day.report is not None
            copy(day.report.files)


if __name__ == "__main__":  # pragma: no cover
    main()
