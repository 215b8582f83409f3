"""``tradeloop backtest``: the configured strategies over the data folder, through the core."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from framework.loader import LoadedPlugins, load_checked
from framework.runtime import Bot
from framework.settings import Settings
from framework.settings_collect import check_core
from framework.types import Tick

from .clock import BacktestClock
from .config import BacktestSettings
from .data import DataError, Gap, day_of, iso, read_klines, read_trades
from .feed import SymbolData, SymbolFeed, locate, merged
from .history import CandleHistory
from .results import Recorder, build_results
from .trades import FILE as TRADES_FILE
from .trades import TradeLog
from .venue import BacktestVenue, spec_for

PLUGIN = "backtest"
EXCHANGE = "backtest"
# Plugins a backtest runs without: the live connector and simulator (the venue replaces them),
# reconciliation (nothing to reconcile against), and the ones that display or send.
OFF = ("sim", "binance", "reconciliation", "status", "daily_report", "http", "webhook")
MAX_SETTLE = 64  # loop turns after one price while the venue still sees requests


@dataclass(frozen=True)
class Request:
    """What ``tradeloop backtest`` was asked."""

    start_ms: int
    end_ms: int
    settings_file: str | None = None
    env: str | None = None
    data_dir: Path | None = None
    out: Path | None = None
    symbols: tuple[str, ...] = ()
    through_sockets: bool = False
    """Through the real connector and the simulator on loopback (``sockets_run``)."""
    faults: tuple[tuple[str, str], ...] = ()
    """``--fault NAME=VALUE`` pairs over ``plugins.sim.faults`` (with ``through_sockets``)."""


def parse_time(text: str) -> int:
    """``2026-01-01`` or ``2026-01-01T12:00`` (UTC) in ms."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DataError(
            f"{text!r} is not a date (2026-01-01) or a UTC time (2026-01-01T12:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def overrides_for(request: Request, out: Path) -> dict[str, Any]:
    """Settings a backtest runs with over the user's: the venue, its own journal."""
    plugins: dict[str, Any] = {name: {"enabled": False} for name in OFF}
    plugins["journal"] = {
        "path": str(out / "journal.sqlite3"),
        "heartbeat_every": 300.0,
        # No restart to survive, and an order must not wait on the disk between two prices.
        "strategy_state": False,
    }
    overrides: dict[str, Any] = {
        "exchange": {"name": EXCHANGE},
        "plugins": plugins,
        # The machine's load must not pause a strategy: budgets are in real time.
        "hooks": {"timeouts": {"on_tick": 30.0, "on_order_update": 30.0, "on_fill": 30.0}},
    }
    if request.symbols:
        overrides["exchange"]["symbols"] = list(request.symbols)
    return overrides


def load(
    request: Request,
    out: Path,
    overrides: dict[str, Any] | None = None,
    extra: tuple[tuple[str, object], ...] = (),
) -> tuple[Settings, LoadedPlugins]:
    """The user's settings with the backtest's overrides (or ``overrides``), and the plugins
    they enable, with the ready-made plugin objects ``extra``."""
    wanted = overrides if overrides is not None else overrides_for(request, out)
    core = check_core(request.settings_file, env=request.env, overrides=wanted)
    return load_checked(core, extra=extra)


def first_price(data: SymbolData, start: int, end: int) -> Decimal:
    first = day_of(start)
    for day in sorted(d for d in set(data.klines) | set(data.trades) if d >= first):
        trades = data.trades.get(day)
        if trades is not None:
            for t, price in read_trades(trades):
                if start <= t < end:
                    return price
            continue
        for t, o, *_ in read_klines(data.klines[day]):
            if start <= t < end:
                return o
    raise DataError(f"{data.symbol}: no price between {iso(start)} and {iso(end)}")


async def run_backtest(request: Request) -> tuple[dict[str, Any], Path, dict[str, Any]]:
    """Run it; the results, the folder they belong in, and the run's performance figures."""
    if request.end_ms <= request.start_ms:
        raise DataError(
            f"--to ({iso(request.end_ms)}) must be after --from ({iso(request.start_ms)})"
        )
    # Settings first (for the folders), then again with the results folder's journal path.
    probe_settings, probe_loaded = load(request, Path("."))
    config = probe_loaded.configs.get(PLUGIN)
    if not isinstance(config, BacktestSettings):
        raise DataError("the backtest plugin is disabled (plugins.backtest.enabled: false)")
    data_root = Path(probe_settings.runtime.data_dir)
    folder = request.data_dir or Path(config.data_dir or data_root / "market")
    stamp = f"{iso(request.start_ms)}_{iso(request.end_ms)}".replace(":", "")
    out = request.out or Path(config.results_dir or data_root / "backtests") / stamp
    out.mkdir(parents=True, exist_ok=True)
    if request.through_sockets:
        from .sockets_run import run_through_sockets

        return await run_through_sockets(request, config, folder, out, probe_settings, probe_loaded)
    settings, loaded = load(request, out)
    plugin = loaded.pm.get_plugin(PLUGIN)
    assert plugin is not None
    clock = BacktestClock(request.start_ms / 1000)
    bot = Bot(settings, loaded, clock=clock)
    symbols = list(bot.ctx.subscribed_symbols())
    located = locate(folder, symbols, config.interval, request.start_ms, request.end_ms)
    first = {d.symbol: first_price(d, request.start_ms, request.end_ms) for d in located}
    specs = {s: spec_for(s, first[s]) for s in symbols}
    history = CandleHistory({d.symbol: d.klines for d in located}, config.interval)
    trades = TradeLog(out / TRADES_FILE)
    plugin.prepare(specs, first, history, trades.add)
    gaps: list[Gap] = []
    feeds = [
        SymbolFeed(d, i, config.interval, request.start_ms, request.end_ms, gaps)
        for i, d in enumerate(located)
    ]
    recorder = Recorder(config.balance, symbols)
    started = time.perf_counter()
    await bot.start()
    try:
        venue: BacktestVenue = plugin.venue
        looped = time.perf_counter()
        await _drive(bot, venue, clock, feeds, symbols, recorder, request)
        looped = time.perf_counter() - looped
    finally:
        try:
            summary = await bot.stop()
        finally:
            trades.close()
    elapsed = time.perf_counter() - started
    engine = venue.engine
    unrealized = {s: engine.unrealized(s) for s in symbols}
    strategies = [n.removeprefix("strategy:") for n in loaded.strategy_names]
    results = build_results(
        recorder=recorder,
        trades=trades,
        final_equity=venue.equity(),
        unrealized=unrealized,
        gaps=gaps,
        start_ms=request.start_ms,
        end_ms=request.end_ms,
        settings=settings_of(config, settings),
        strategies=strategies,
        data={
            "folder": str(folder),
            "interval": config.interval,
            "candles": {f.data.symbol: f.candles for f in feeds},
            "trades": {f.data.symbol: f.trades for f in feeds},
        },
    )
    perf = {
        "elapsed_s": round(elapsed, 3),
        "ticks": recorder.ticks,
        "ticks_per_s": round(recorder.ticks / elapsed) if elapsed else None,
        "loop_s": round(looped, 3),
        "loop_ticks_per_s": round(recorder.ticks / looped) if looped else None,
        "strategies_paused": {
            k: v for k, v in summary.get("strategies", {}).items() if v.get("state") != "running"
        },
    }
    return results, out, perf


def settings_of(config: BacktestSettings, settings: Settings) -> dict[str, Any]:
    return {
        "balance": str(config.balance),
        "leverage": config.leverage,
        "maker_fee": str(config.maker_fee),
        "taker_fee": str(config.taker_fee),
        "slippage_bps": config.slippage_bps,
        "latency_ms": config.latency_ms,
        "spread_ticks": config.spread_ticks,
        "interval": config.interval,
        "strategies": [
            {"id": s.id, "use": s.use, "params": dict(s.params)}
            for s in settings.strategies
            if s.enabled
        ],
    }


async def _drive(
    bot: Bot,
    venue: BacktestVenue,
    clock: BacktestClock,
    feeds: list[SymbolFeed],
    symbols: list[str],
    recorder: Recorder,
    request: Request,
) -> None:
    """Each instant in time order: the clock moves (due jobs and sleepers run), then each price
    of that instant moves the venue's quote (resting orders it crosses fill) and goes to every
    plugin as a tick; then the loop runs the tasks they started until the venue is still."""
    on_tick = bot.ctx.hooks.on_tick
    sleep = asyncio.sleep
    on_price = venue.on_price
    spreads = [venue.spreads[s] for s in symbols]
    sizes = [venue.specs[s].top_qty for s in symbols]
    last_price = recorder.last_price
    first_price = recorder.first_price
    recorder.start(request.start_ms)

    async def settle() -> None:
        seen = -1
        turns = 0
        while seen != venue.activity and turns < MAX_SETTLE:
            seen = venue.activity
            await sleep(0)
            turns += 1

    ticks = 0
    last_t = request.start_ms
    seen = venue.activity
    next_minute = recorder.next_minute
    for t, index, price in merged(feeds):
        if t != last_t:
            # Every price of one instant is out: let the tasks it started run first.
            await sleep(0)
            if seen != venue.activity:
                await settle()
            seen = venue.activity
            if bot.ctx.stop_reason:
                logger.warning("backtest stopped early: {}", bot.ctx.stop_reason)
                break
            while t >= next_minute:
                recorder.sample(next_minute, venue.equity(), venue.exposed())
                next_minute = recorder.next_minute
            last_t = t
            now = t / 1000
            if clock.due(now):
                await clock.move_to(now, settle)
                seen = venue.activity
            else:
                clock.set_time(now)
        symbol = symbols[index]
        on_price(symbol, price, t)
        ticks += 1
        if symbol not in first_price:
            first_price[symbol] = price
        last_price[symbol] = price
        size = sizes[index]
        on_tick(
            Tick(
                symbol=symbol,
                bid=price,
                bid_qty=size,
                ask=price + spreads[index],
                ask_qty=size,
                event_time=t,
                update_id=ticks,
            )
        )
    await settle()
    end = request.end_ms
    while next_minute <= end:
        recorder.sample(next_minute, venue.equity(), venue.exposed())
        next_minute = recorder.next_minute
    await clock.move_to(end / 1000, settle)
    await settle()
    recorder.ticks = ticks
