"""``tradeloop trades``, ``profit``, ``balance`` and ``positions``: compact tables (or JSON) from
the journal on disk, like freqtrade's ``/trades``, ``/profit`` and ``/balance``.

They read what the bot recorded, not a running bot's live state (that needs a plugin that
answers a running bot's questions, which does not exist yet): a stopped bot's last figures.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from framework import Command, Settings
from framework.money import money
from plugins.journal import FillRow, JournalStore

from .account import equity_figure, last_marks, position_figures
from .csv_export import write_trades_csv
from .journal_cli import UsageError, add_period, iso, journal_store, period, report_settings
from .model import PositionFigure
from .performance import PerformanceTally, strategy_of
from .tables import side
from .text import pct, plural, profit_factor

if TYPE_CHECKING:  # rich is imported when a command runs, not with the CLI
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

LATEST = 2**53
DAY_MS = 86_400_000
ZERO = Decimal(0)

Render = Callable[[argparse.Namespace, JournalStore, str], Awaitable[Any]]


def console() -> Console:
    """Rich on a terminal; 120 columns and no colour when piped (a file, a test)."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(highlight=False)
    width = max(120, shutil.get_terminal_size((120, 24)).columns)
    return Console(width=width, no_color=True, highlight=False)


def _table(*columns: str, numeric: Sequence[str] = ()) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in columns:
        table.add_column(name, justify="right" if name in numeric else "left", no_wrap=True)
    return table


def _pnl(text: str) -> Text:
    from rich.text import Text

    style = "green" if text.startswith("+") else "red" if text.startswith("-") else ""
    return Text(text, style=style)


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", help="only this strategy instance (strategies[].id)")
    parser.add_argument("--symbol", help="only this symbol (BTCUSDT)")


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _wanted(args: argparse.Namespace) -> Callable[[FillRow], bool]:
    strategy = getattr(args, "strategy", None)
    symbol = (getattr(args, "symbol", None) or "").upper()

    def keep(fill: FillRow) -> bool:
        if symbol and fill.symbol != symbol:
            return False
        return not strategy or strategy_of(fill.client_order_id) == strategy

    return keep


async def _fills(args: argparse.Namespace, store: JournalStore) -> list[FillRow]:
    start, end = period(args, time.time())
    keep = _wanted(args)
    return [f for f in await store.fills(start, end) if keep(f)]


# ---------------------------------------------------------------------------------- trades


def configure_trades(parser: argparse.ArgumentParser) -> None:
    add_period(parser, default="the whole journal")
    _filters(parser)
    parser.add_argument(
        "--limit", type=int, default=20, help="show the newest N trades (default 20; 0: all)"
    )
    parser.add_argument("--csv", metavar="PATH", help="write every matching trade as CSV to PATH")
    _json(parser)


async def trades(args: argparse.Namespace, store: JournalStore, asset: str) -> Any:
    if args.limit < 0:
        raise UsageError(f"--limit {args.limit}: expected 0 or more")
    fills = await _fills(args, store)
    if args.csv:
        count = await asyncio.to_thread(write_trades_csv, fills, args.csv)
        print(f"{plural(count, 'trade')} written to {args.csv}", file=sys.stderr)
    shown = fills[-args.limit :] if args.limit else fills
    if args.json:
        return [
            {
                "time": iso(f.event_time),
                "strategy": strategy_of(f.client_order_id),
                "symbol": f.symbol,
                "side": f.side,
                "quantity": f.qty,
                "price": f.price,
                "fee": f.fee,
                "fee_asset": f.fee_asset,
                "realized_pnl": f.realized_pnl,
                "order_id": f.order_id,
                "trade_id": f.trade_id,
            }
            for f in shown
        ]
    out = console()
    if not shown:
        out.print("no trades in the journal for this selection")
        return None
    table = _table(
        "time (UTC)",
        "strategy",
        "symbol",
        "side",
        "quantity",
        "price",
        "fee",
        "realized PnL",
        numeric=("quantity", "price", "fee", "realized PnL"),
    )
    for f in shown:
        table.add_row(
            iso(f.event_time),
            strategy_of(f.client_order_id),
            f.symbol,
            f.side,
            f"{f.qty.normalize():f}",
            f"{f.price.normalize():f}",
            f"{money(f.fee, f.fee_asset)} {f.fee_asset}",
            _pnl(money(f.realized_pnl, asset, sign=True) if f.realized_pnl else ""),
        )
    out.print(table)
    if len(shown) < len(fills):
        out.print(f"the newest {len(shown)} of {plural(len(fills), 'trade')} (--limit 0: all)")
    return None


# ---------------------------------------------------------------------------------- profit


def configure_profit(parser: argparse.ArgumentParser) -> None:
    add_period(parser, default="the whole journal")
    _filters(parser)
    _json(parser)


async def profit(args: argparse.Namespace, store: JournalStore, asset: str) -> Any:
    start, end = period(args, time.time())
    fills = await _fills(args, store)
    tally = PerformanceTally(max_trades=0)
    realized = ZERO
    fees: dict[str, Decimal] = {}
    for f in fills:
        tally.add(f)
        realized += f.realized_pnl
        fees[f.fee_asset] = fees.get(f.fee_asset, ZERO) + f.fee
    equity = equity_figure(asset, await store.samples(start, end))
    perf = tally.performance(equity.points)
    strategies = tally.strategies(())
    net = realized - fees.get(asset, ZERO)
    if args.json:
        return {
            "from": iso(start) if start else None,
            "to": iso(end),
            "asset": asset,
            "trades": len(fills),
            "realized_pnl": realized,
            "fees": fees,
            "net_realized_pnl": net,
            "closing_fills": perf.closing_fills,
            "wins": perf.wins,
            "losses": perf.losses,
            "win_rate": perf.win_rate,
            "profit_factor": perf.profit_factor,
            "equity_start": equity.start,
            "equity_end": equity.end,
            "max_drawdown": perf.drawdown.amount,
            "max_drawdown_share": perf.drawdown.share,
            "strategies": [msgspec.to_builtins(s) for s in strategies],
        }
    out = console()
    a = asset
    rows: list[tuple[str, str | Text]] = [
        ("Trades", str(len(fills))),
        ("Realized PnL", _pnl(f"{money(realized, a, sign=True)} {a}")),
        ("Fees", ", ".join(f"{money(v, k)} {k}" for k, v in sorted(fees.items())) or "0"),
        ("Net realized PnL", _pnl(f"{money(net, a, sign=True)} {a}")),
        (
            "Win rate",
            f"{pct(perf.win_rate)} ({perf.wins} won, {perf.losses} lost)"
            if perf.closing_fills
            else "- (no closing fill)",
        ),
        ("Profit factor", profit_factor(perf.profit_factor, perf.gross_profit)),
    ]
    if equity.start is not None and equity.end is not None:
        change = equity.end - equity.start
        share = float(change / equity.start) if equity.start > 0 else None
        rows.append(
            (
                "Equity (account)",
                _pnl(
                    f"{money(change, a, sign=True)} {a} ({pct(share, sign=True)}): "
                    f"{money(equity.start, a)} → {money(equity.end, a)}"
                ),
            )
        )
        dd = perf.drawdown
        rows.append(
            (
                "Max drawdown (account)",
                f"{money(-dd.amount, a, sign=True)} {a} ({pct(-dd.share)})"
                if dd.amount
                else "none",
            )
        )
    from rich.table import Table

    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    for label, value in rows:
        summary.add_row(label, value)
    span = f"{iso(start)[:10]} to {iso(end - 1)[:10]}" if start else "since the journal began"
    out.print(f"Profit {span} (UTC), as the journal recorded it")
    out.print(summary)
    if strategies:
        table = _table(
            "strategy",
            "trades",
            "realized PnL",
            "win rate",
            "profit factor",
            numeric=("trades", "realized PnL", "win rate", "profit factor"),
        )
        for s in strategies:
            table.add_row(
                s.strategy,
                str(s.trades),
                _pnl(money(s.realized_pnl, a, sign=True)),
                pct(s.win_rate) if s.closing_fills else "-",
                "-" if s.profit_factor is None else f"{s.profit_factor:.2f}",
            )
        out.print(table)
    return None


# ---------------------------------------------------------------------- balance, positions


async def _last_seen(store: JournalStore) -> int | None:
    runs = await store.runs(0, LATEST)
    seen = [max(r.started_at, r.last_seen or 0, r.stopped_at or 0) for r in runs]
    return max(seen) if seen else None


async def _positions(store: JournalStore) -> tuple[list[PositionFigure], int | None]:
    last = await _last_seen(store)
    samples = await store.samples((last or 0) - DAY_MS, LATEST) if last else []
    figures = position_figures(await store.positions_before(LATEST), last_marks(samples))
    return list(figures), samples[-1].ts if samples else None


def configure_balance(parser: argparse.ArgumentParser) -> None:
    _json(parser)


async def balance(args: argparse.Namespace, store: JournalStore, asset: str) -> Any:
    rows = await store.balances_before(LATEST)
    last = await _last_seen(store)
    samples = await store.samples((last or 0) - DAY_MS, LATEST) if last else []
    sample = next((s for s in reversed(samples) if s.asset == asset), None)
    if args.json:
        return {
            "balances": [
                {
                    "asset": b.asset,
                    "wallet_balance": b.wallet_balance,
                    "available_balance": b.available_balance,
                    "at": iso(b.event_time),
                }
                for b in sorted(rows, key=lambda b: b.asset)
            ],
            "equity": None
            if sample is None
            else {
                "asset": sample.asset,
                "wallet": sample.wallet,
                "unrealized_pnl": sample.unrealized,
                "equity": sample.equity,
                "at": iso(sample.ts),
            },
        }
    out = console()
    if not rows:
        out.print("no balance in the journal yet")
        return None
    table = _table(
        "asset",
        "wallet balance",
        "available",
        "as of (UTC)",
        numeric=("wallet balance", "available"),
    )
    for b in sorted(rows, key=lambda b: b.asset):
        table.add_row(
            b.asset,
            money(b.wallet_balance, b.asset),
            money(b.available_balance, b.asset),
            iso(b.event_time),
        )
    out.print(table)
    if sample is not None:
        a = sample.asset
        out.print(
            f"Equity {money(sample.equity, a)} {a} = wallet {money(sample.wallet, a)} "
            f"+ unrealized {money(sample.unrealized, a, sign=True)}, "
            f"last sampled {iso(sample.ts)} UTC"
        )
    return None


def configure_positions(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbol", help="only this symbol (BTCUSDT)")
    _json(parser)


async def positions(args: argparse.Namespace, store: JournalStore, asset: str) -> Any:
    figures, marked_at = await _positions(store)
    if args.symbol:
        figures = [p for p in figures if p.symbol == args.symbol.upper()]
    if args.json:
        return [
            {
                "symbol": p.symbol,
                "side": side(p),
                "amount": p.amount,
                "entry_price": p.entry_price,
                "mark": p.mark,
                "unrealized_pnl": p.unrealized_pnl,
            }
            for p in figures
        ]
    out = console()
    if not figures:
        out.print("no open position in the journal")
        return None
    table = _table(
        "symbol",
        "side",
        "amount",
        "entry",
        "mark",
        "unrealized PnL",
        numeric=("amount", "entry", "mark", "unrealized PnL"),
    )
    for p in figures:
        table.add_row(
            p.symbol,
            side(p),
            f"{abs(p.amount).normalize():f}",
            f"{p.entry_price.normalize():f}",
            "-" if p.mark is None else f"{p.mark.normalize():f}",
            _pnl(money(p.unrealized_pnl, asset, sign=True)),
        )
    out.print(table)
    if marked_at is not None:
        out.print(f"marks as last sampled at {iso(marked_at)} UTC")
    return None


# ---------------------------------------------------------------------------------- wiring


def _runner(name: str, render: Render) -> Callable[[argparse.Namespace, Settings], Awaitable[int]]:
    async def run(args: argparse.Namespace, settings: Settings) -> int:
        store = journal_store(settings, name)
        if store is None:
            return 1
        asset = report_settings(settings).equity_asset
        await store.open()
        try:
            data = await render(args, store, asset)
        except UsageError as exc:
            print(f"tradeloop {name}: error: {exc}", file=sys.stderr)
            return 2
        finally:
            await store.close()
        if getattr(args, "json", False):
            sys.stdout.write(msgspec.json.format(msgspec.json.encode(data), indent=2).decode())
            sys.stdout.write("\n")
        return 0

    return run


def trader_commands() -> list[Command]:
    """``trades``, ``profit``, ``balance``, ``positions``."""
    return [
        Command(
            name="trades",
            help="list trades from the journal (newest 20; --csv exports them)",
            run=_runner("trades", trades),
            configure=configure_trades,
        ),
        Command(
            name="profit",
            help="realized PnL, fees, win rate, profit factor and drawdown from the journal",
            run=_runner("profit", profit),
            configure=configure_profit,
        ),
        Command(
            name="balance",
            help="wallet balances and equity as the journal last recorded them",
            run=_runner("balance", balance),
            configure=configure_balance,
        ),
        Command(
            name="positions",
            help="open positions as the journal last recorded them, with unrealized PnL",
            run=_runner("positions", positions),
            configure=configure_positions,
        ),
    ]
