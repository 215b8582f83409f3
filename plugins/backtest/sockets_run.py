"""One ``tradeloop backtest --through-sockets`` run: the simulator on loopback with the data's
contracts, history and first prices; the bot with its connector and reconciliation; the
lockstep loop (``sockets``); the same results, with a ``sockets`` section."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from framework.errors import SettingsError
from framework.loader import LoadedPlugins
from framework.runtime import Bot
from framework.settings import Settings, convert

from .clock import BacktestClock
from .config import BacktestSettings
from .data import Gap
from .feed import SymbolFeed, locate
from .history import CandleHistory
from .results import Recorder, build_results
from .sockets import (
    NAME,
    SocketsBridge,
    drift,
    drive_sockets,
    exchange_fills,
    final_reconcile,
    sockets_section,
    wait_until_trading,
)
from .trades import FILE as TRADES_FILE
from .trades import TradeLog
from .venue import spec_for

if TYPE_CHECKING:
    from plugins.sim.candles import Candle as SimCandle
    from plugins.sim.config import FaultSettings, SimSettings
    from plugins.sim.symbols import SymbolSpec

    from .runner import Request

LOOPBACK = "127.0.0.1"
HISTORY_MINUTES = 1500
KEY_VALIDITY = 365 * 86400.0
# The plugins a run through sockets goes without: the simulator plugin (the run starts its own,
# fed by the data) and the ones that display or send.
OFF = ("sim", "status", "daily_report", "http", "webhook")


def parse_faults(pairs: tuple[tuple[str, str], ...], base: FaultSettings) -> FaultSettings:
    """``plugins.sim.faults`` with the ``--fault NAME=VALUE`` pairs over it; ``SettingsError``
    naming the fault when a name or a value is bad."""
    from plugins.sim.config import FaultSettings

    values = msgspec.structs.asdict(base)
    for name, value in pairs:
        if name not in values:
            raise SettingsError(
                "--fault", f"{name}={value}", f"NAME=VALUE, NAME one of {', '.join(values)}"
            )
        values[name] = value
    return convert(values, FaultSettings, prefix="plugins.sim.faults")


def refuse_in_process_only(config: BacktestSettings) -> None:
    """Slippage and latency are the in-process venue's: through sockets the simulator fills at
    its quote and the latency is the loopback's. ``SettingsError`` when either is set."""
    if config.slippage_bps:
        raise SettingsError(
            "plugins.backtest.slippage_bps",
            config.slippage_bps,
            "0 with --through-sockets (the simulator fills market orders at its quote)",
        )
    if config.latency_ms:
        raise SettingsError(
            "plugins.backtest.latency_ms",
            config.latency_ms,
            "0 with --through-sockets (requests take the loopback's real time)",
        )


def sim_settings_for(
    settings: Settings,
    config: BacktestSettings,
    symbols: list[str],
    faults: tuple[tuple[str, str], ...],
) -> SimSettings:
    """The user's ``plugins.sim`` block (seed, faults, timings) with the backtest's symbols,
    wallet, leverage and fees; no random walk, no account file."""
    from plugins.sim.config import parse_sim_settings

    raw = {k: v for k, v in (settings.plugins.get("sim") or {}).items() if k != "enabled"}
    raw.pop("symbols", None)  # the data's symbols, whatever the catalogue lists
    base = parse_sim_settings(raw)
    return msgspec.structs.replace(
        base,
        symbols=symbols,
        balances={"USDT": config.balance},
        leverage=config.leverage,
        maker_fee=config.maker_fee,
        taker_fee=config.taker_fee,
        updates_per_second=0.0,
        persist=False,
        # The connector's keepalive runs in real time: on the data's clock a key would expire
        # within an hour of data. ``faults.expire_listen_key_every`` still expires it.
        listen_key_validity=KEY_VALIDITY,
        faults=parse_faults(faults, base.faults),
    )


def overrides_through_sockets(
    base: dict[str, Any], rest_url: str, ws_url: str, api_key: str, api_secret: str
) -> dict[str, Any]:
    """The in-process backtest's overrides, but the connector and reconciliation on, talking
    to the simulator at ``rest_url`` (the bridge publishes it with the bot's clock)."""
    plugins: dict[str, Any] = {name: {"enabled": False} for name in OFF}
    plugins["binance"] = {"enabled": True}
    plugins["reconciliation"] = {"enabled": True}
    plugins["journal"] = base["plugins"]["journal"]
    exchange = {
        **base["exchange"],
        "name": "sim",
        "rest_url": rest_url,
        "stream_url": ws_url,
        "api_key": api_key,
        "api_secret": api_secret,
    }
    return {**base, "exchange": exchange, "plugins": plugins}


def sim_history(
    history: CandleHistory, symbol: str, spec: SymbolSpec, now_ms: int
) -> list[SimCandle]:
    """The data's 1-minute candles before ``now_ms``, in the simulator's integer units (what
    ``ctx.history`` reads through the connector, as in-process it reads the files)."""
    from plugins.sim.candles import Candle as SimCandle

    if history.interval != "1m":
        return []
    pp, qp = spec.price_precision, spec.quantity_precision
    return [
        SimCandle(
            open_time=c.open_time,
            close_time=c.close_time,
            open=int(c.open.scaleb(pp)),
            high=int(c.high.scaleb(pp)),
            low=int(c.low.scaleb(pp)),
            close=int(c.close.scaleb(pp)),
            volume=int(c.volume.scaleb(qp)),
            quote_volume=int((c.quote_volume).scaleb(pp + qp)),
            trades=c.trades,
        )
        for c in history(symbol, "1m", HISTORY_MINUTES, now_ms)
    ]


async def run_through_sockets(
    request: Request,
    config: BacktestSettings,
    folder: Path,
    out: Path,
    probe_settings: Settings,
    probe_loaded: LoadedPlugins,
) -> tuple[dict[str, Any], Path, dict[str, Any]]:
    """Run it; the results, their folder and the performance figures (as ``run_backtest``)."""
    from plugins.sim.exchange import SimExchange

    from .runner import first_price, load, overrides_for, settings_of

    refuse_in_process_only(config)
    clock = BacktestClock(request.start_ms / 1000)
    symbols = list(Bot(probe_settings, probe_loaded, clock=clock).ctx.subscribed_symbols())
    located = locate(folder, symbols, config.interval, request.start_ms, request.end_ms)
    first = {d.symbol: first_price(d, request.start_ms, request.end_ms) for d in located}
    specs = {s: spec_for(s, first[s]) for s in symbols}
    history = CandleHistory({d.symbol: d.klines for d in located}, config.interval)
    sim = SimExchange(
        sim_settings_for(probe_settings, config, symbols, request.faults),
        clock=clock.time,
        specs=specs,
        history={s: sim_history(history, s, specs[s], request.start_ms) for s in symbols},
    )
    await sim.start(LOOPBACK, 0)
    try:
        for s in symbols:  # the book opens at the data's first price
            spread = specs[s].tick_size * config.spread_ticks
            size = specs[s].top_qty
            sim.apply_quote(s, first[s], size, first[s] + spread, size)
        bridge = SocketsBridge()
        bridge.sim = sim
        overrides = overrides_through_sockets(
            overrides_for(request, out),
            sim.rest_url,
            sim.ws_url,
            sim.settings.api_key,
            sim.settings.api_secret,
        )
        settings, loaded = load(request, out, overrides, extra=((NAME, bridge),))
        bot = Bot(settings, loaded, clock=clock)
        gaps: list[Gap] = []
        feeds = [
            SymbolFeed(d, i, config.interval, request.start_ms, request.end_ms, gaps)
            for i, d in enumerate(located)
        ]
        recorder = Recorder(config.balance, symbols)
        started = time.perf_counter()
        await bot.start()
        try:
            await wait_until_trading(bot, bridge)
            looped = time.perf_counter()
            await drive_sockets(
                bot, bridge, clock, feeds, symbols, recorder, request.start_ms, request.end_ms
            )
            looped = time.perf_counter() - looped
            # The data ended: no new order while the final reconcile moves the clock on.
            bot.ctx.hold_strategies("backtest: the data ended")
            final = await final_reconcile(bot, bridge, clock)
            found = drift(bot.ctx.cache, bot.account, sim)
            fills_seen = bot.ctx.cache.fill_count
            checked = len(sim.engine.trades)
        finally:
            summary = await bot.stop()
        trades = TradeLog(out / TRADES_FILE)
        try:
            for fill, owner in exchange_fills(sim, bot.ctx.exchange.owner_of):
                trades.add(fill, owner)
        finally:
            trades.close()
        elapsed = time.perf_counter() - started
        engine = sim.engine
        equity = engine.wallet["USDT"] + engine.total_unrealized()
        results = build_results(
            recorder=recorder,
            trades=trades,
            final_equity=equity,
            unrealized={s: engine.unrealized(s) for s in symbols},
            gaps=gaps,
            start_ms=request.start_ms,
            end_ms=request.end_ms,
            settings=settings_of(config, settings),
            strategies=[n.removeprefix("strategy:") for n in loaded.strategy_names],
            data={
                "folder": str(folder),
                "interval": config.interval,
                "candles": {f.data.symbol: f.candles for f in feeds},
                "trades": {f.data.symbol: f.trades for f in feeds},
            },
        )
        results["sockets"] = sockets_section(bridge, sim, final, found, fills_seen, checked)
    finally:
        await sim.stop()
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
