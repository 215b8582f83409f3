"""``BacktestPlugin``: the ``backtest`` and ``download-data`` commands, and the in-process venue
it provides as the exchange while ``tradeloop backtest`` runs."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from framework import BotContext, Settings, SettingsError, hookimpl
from framework.commands import Command
from framework.errors import EXIT_OK
from framework.types import Candle, Fill
from plugins.sim.symbols import SymbolSpec

from .config import BacktestSettings
from .venue import BacktestVenue, rules_of

CandleSource = Callable[[str, str, int, int], list[Candle]]
FillSink = Callable[[Fill, str], None]


class BacktestPlugin:
    """Backtests on the simulator's matching engine; the data comes from files."""

    def __init__(self, config: BacktestSettings | None = None) -> None:
        self.config = config or BacktestSettings()
        self.venue: BacktestVenue | None = None
        self._prepared: (
            tuple[dict[str, SymbolSpec], Mapping[str, Decimal], CandleSource, FillSink] | None
        ) = None

    @staticmethod
    @hookimpl
    def declare_settings() -> type:
        """``plugins.backtest`` settings."""
        return BacktestSettings

    def prepare(
        self,
        specs: dict[str, SymbolSpec],
        first_prices: Mapping[str, Decimal],
        candles: CandleSource,
        on_fill: FillSink,
    ) -> None:
        """Used by the backtest runner before the bot starts: the contracts and first prices
        the venue opens with, where its candle history comes from and where its fills go."""
        self._prepared = (specs, first_prices, candles, on_fill)

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Open the venue (only in a backtest)."""
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        if ctx.settings.exchange.name != "backtest":
            yield
            return
        if self._prepared is None:
            raise SettingsError(
                "exchange.name",
                "backtest",
                "sim or binance_futures: the backtest venue runs under `tradeloop backtest` only",
            )
        specs, first, candles, on_fill = self._prepared
        config = self.config
        self.venue = BacktestVenue(
            specs,
            first,
            balance=config.balance,
            leverage=config.leverage,
            maker_fee=config.maker_fee,
            taker_fee=config.taker_fee,
            slippage_bps=config.slippage_bps,
            latency_ms=config.latency_ms,
            spread_ticks=config.spread_ticks,
            sink=ctx.account_for(self),
            clock=ctx.clock,
            candles=candles,
            on_fill=on_fill,
        )
        self.venue.seed()
        ctx.publish_rules(self, [rules_of(spec) for spec in specs.values()])
        yield

    @hookimpl
    def provide_exchange(self, ctx: BotContext) -> BacktestVenue | None:
        """The venue, in a backtest."""
        return self.venue

    @hookimpl
    def summarize_run(self, ctx: BotContext) -> Mapping[str, Any] | None:
        """The venue's counters."""
        return dict(self.venue.stats()) if self.venue is not None else None

    @hookimpl
    def register_commands(self) -> list[Command]:
        """``tradeloop backtest`` and ``tradeloop download-data``."""
        from .download import configure_download, run_download

        return [
            Command(
                "backtest",
                "run the configured strategies over candle data (or --compare two results)",
                _run_backtest,
                _configure_backtest,
            ),
            Command(
                "download-data",
                "download klines (and aggTrades) into the data folder, resumable",
                run_download,
                configure_download,
            ),
        ]


def _configure_backtest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", metavar="TIME", help="UTC date or time: 2026-01-01")
    parser.add_argument("--to", dest="end", metavar="TIME", help="UTC date or time (excluded)")
    parser.add_argument(
        "--data", type=Path, metavar="DIR", help="the data folder (plugins.backtest.data_dir)"
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="where the results go")
    parser.add_argument("--symbols", metavar="LIST", help="comma-separated (exchange.symbols)")
    parser.add_argument("--settings", metavar="PATH", help="settings file")
    parser.add_argument(
        "--through-sockets",
        action="store_true",
        help="through the real connector and the simulator on loopback, reconciliation on",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a simulator fault for --through-sockets (over plugins.sim.faults); repeatable",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("A.json", "B.json"),
        help="print two results side by side",
    )


async def _run_backtest(args: argparse.Namespace, settings: Settings) -> int:
    from .data import DataError
    from .render import compare, headline, write_reports
    from .runner import Request, parse_time, run_backtest

    if args.compare:
        loaded = []
        for path in args.compare:
            try:
                loaded.append(orjson.loads(path.read_bytes()))
            except (OSError, orjson.JSONDecodeError) as exc:
                raise DataError(f"{path}: not a backtest results file ({exc})") from None
        print(compare(loaded[0], loaded[1], (args.compare[0].name, args.compare[1].name)), end="")
        return EXIT_OK
    if not args.start or not args.end:
        raise DataError("--from and --to are required (or --compare A.json B.json)")
    symbols = tuple(s.strip().upper() for s in (args.symbols or "").split(",") if s.strip())
    faults = tuple(_fault_pair(text) for text in args.fault)
    if faults and not args.through_sockets:
        raise SettingsError("--fault", args.fault[0], "used with --through-sockets only")
    request = Request(
        start_ms=parse_time(args.start),
        end_ms=parse_time(args.end),
        settings_file=args.settings,
        env=args.env,
        data_dir=args.data,
        out=args.out,
        symbols=symbols,
        through_sockets=args.through_sockets,
        faults=faults,
    )
    results, out, perf = await run_backtest(request)
    files = write_reports(results, out)
    print(headline(results), end="")
    for gap in results["gaps"]:
        span = f"from {gap['from']} to {gap['to']} ({gap['minutes']} min)"
        print(f"gap: {gap['symbol']}: no data {span}", file=sys.stderr)
    for sid, state in perf["strategies_paused"].items():
        print(f"strategy {sid} was paused: {state.get('reason')}", file=sys.stderr)
    sockets = results.get("sockets")
    if sockets is not None:
        drift = sockets["drift_at_end"]
        print(
            f"\nthrough sockets: faults injected {sockets['faults_injected'] or 'none'}, "
            f"drift found and repaired {sockets['drift_found']}, drift at the end {len(drift)}"
        )
        for line in drift:
            print(f"drift: {line}", file=sys.stderr)
    print(f"\n{perf['ticks']} ticks in {perf['elapsed_s']} s ({perf['ticks_per_s']} ticks/s)")
    print("results: " + ", ".join(str(f) for f in files))
    return EXIT_OK


def _fault_pair(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` of ``--fault``; ``SettingsError`` without the ``=``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise SettingsError("--fault", text, "NAME=VALUE, e.g. drop_user_events=0.2")
    return name.strip(), value.strip()
