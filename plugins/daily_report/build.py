"""Build the report of one UTC day, or of a period of days, from a journal store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from plugins.journal import BalanceRow, JournalStore, StreamingJournalStore

from .account import balance_figures, equity_figure, last_marks, position_figures
from .model import BalanceFigure, PositionFigure, Report, SymbolFigure
from .operations import (
    drift_figure,
    kill_switch_figures,
    log_figure,
    plugin_error_figures,
    run_figures,
    stream_figures,
    uptime_figure,
)
from .performance import PerformanceTally, unrealized_by_symbol
from .trading import OrderTally, SymbolTally, totals

DAY_MS = 86_400_000
ZERO = Decimal(0)
# How many streamed rows between two looks at ``stopped`` (a cancelled report ends soon).
CHECK_EVERY = 1000

T = TypeVar("T")


class ReportCancelled(Exception):
    """The report was abandoned while it was being built (the bot is stopping)."""


def day_bounds(day: date) -> tuple[int, int]:
    """``[start, end)`` of a UTC day in epoch ms."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    return start, start + DAY_MS


def period_name(first: date, last: date) -> str:
    """``YYYY-MM-DD`` for one day, ``YYYY-MM-DD_YYYY-MM-DD`` for several (file names)."""
    return first.isoformat() if first == last else f"{first.isoformat()}_{last.isoformat()}"


def day_before(now: float) -> date:
    """The UTC day that ended last before ``now`` (seconds)."""
    return datetime.fromtimestamp(now, UTC).date() - timedelta(days=1)


async def has_activity(store: JournalStore, day: date, last_day: date | None = None) -> bool:
    """True when some run of the bot was alive during ``day`` (through ``last_day``)."""
    start, end = day_bounds(day)[0], day_bounds(last_day or day)[1]
    return bool(await store.runs(start, end))


async def build_report(
    store: JournalStore,
    day: date,
    *,
    now_ms: int,
    equity_asset: str = "USDT",
    current_run: str = "",
    last_day: date | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> Report:
    """Every figure of ``day`` (through ``last_day`` when given), from the journal alone
    (restarts included).

    Fills, order updates and balance changes are streamed and tallied one row at a time
    when the store can stream (``StreamingJournalStore``), so a busy period is never held in
    memory. ``stopped`` is polled while streaming: when it turns true, ``ReportCancelled``.
    """
    last = last_day or day
    start, end = day_bounds(day)[0], day_bounds(last)[1]
    by_symbol = SymbolTally()
    trades = PerformanceTally()
    async for fill in _rows(store, "fills", start, end, stopped):
        by_symbol.add(fill)
        trades.add(fill)
    orders = OrderTally()
    async for order in _rows(store, "orders", start, end, stopped):
        orders.add(order)
    first_of_day: dict[str, BalanceRow] = {}
    async for balance in _rows(store, "balances", start, end, stopped):
        first_of_day.setdefault(balance.asset, balance)
    samples = await store.samples(start, end)
    runs = run_figures(await store.runs(start, end), start, end, now_ms, current_run)
    positions = position_figures(await store.positions_before(end), last_marks(samples))
    symbols = _with_unrealized(by_symbol.figures(), positions)
    equity = equity_figure(equity_asset, samples)
    listed, omitted = trades.trades()
    balances = balance_figures(
        await store.balances_before(start),
        await store.balances_before(end),
        first_of_day.values(),
    )
    trading = totals(symbols, equity_asset)
    return Report(
        day=period_name(day, last),
        start=start,
        end=end,
        generated_at=now_ms,
        equity_asset=equity_asset,
        balances=balances,
        unexplained_change=_unexplained(balances, equity_asset, trading.net_pnl),
        symbols=symbols,
        strategies=trades.strategies(positions),
        performance=trades.performance(equity.points),
        trades=listed,
        trades_omitted=omitted,
        totals=trading,
        orders=orders.figure(),
        positions=positions,
        equity=equity,
        drift=drift_figure(await store.reconciles(start, end)),
        streams=stream_figures(
            await store.stream_states_before(start),
            await store.stream_states(start, end),
            runs,
            start,
            end,
        ),
        uptime=uptime_figure(runs, start, min(end, max(start, now_ms))),
        plugin_errors=plugin_error_figures(await store.plugin_errors(start, end)),
        log=log_figure(await store.log_stats_before(start), await store.log_stats(start, end)),
        kill_switch=kill_switch_figures(
            await store.kill_switch_trips(start, end),
            await store.kill_switch_resumes(start, max(end, now_ms) + 1),  # cleared since too
        ),
    )


def _with_unrealized(
    symbols: tuple[SymbolFigure, ...], positions: tuple[PositionFigure, ...]
) -> tuple[SymbolFigure, ...]:
    """Each symbol with its open positions' unrealized PnL; a symbol held but not traded in
    the period gets a row too."""
    unrealized = unrealized_by_symbol(positions)
    rows = {
        s.symbol: msgspec.structs.replace(s, unrealized_pnl=unrealized.get(s.symbol, ZERO))
        for s in symbols
    }
    for symbol, value in unrealized.items():
        if symbol not in rows:
            rows[symbol] = SymbolFigure(
                symbol=symbol,
                trades=0,
                buys=0,
                sells=0,
                maker=0,
                taker=0,
                volume=ZERO,
                notional=ZERO,
                realized_pnl=ZERO,
                fees={},
                unrealized_pnl=value,
            )
    return tuple(rows[k] for k in sorted(rows))


async def _rows(
    store: JournalStore, table: str, start: int, end: int, stopped: Callable[[], bool]
) -> AsyncIterator[Any]:
    """The rows of ``table`` in ``[start, end)``: streamed when the store can, else listed."""
    if isinstance(store, StreamingJournalStore):
        source: AsyncIterator[Any] = getattr(store, f"iter_{table}")(start, end)
    else:
        source = _listed(getattr(store, table)(start, end))
    count = 0
    async for row in source:
        yield row
        count += 1
        if count % CHECK_EVERY == 0 and stopped():
            raise ReportCancelled(f"report abandoned while reading {table}")


async def _listed(rows: Awaitable[list[T]]) -> AsyncIterator[T]:
    for row in await rows:
        yield row


def _unexplained(
    balances: tuple[BalanceFigure, ...], asset: str, net_pnl: Decimal
) -> Decimal | None:
    figure = next((b for b in balances if b.asset == asset), None)
    if figure is None or figure.change is None:
        return None
    return figure.change - net_pnl


def summary(report: Report) -> dict[str, Any]:
    """The headline figures (JSON-safe: money as strings), for ``DailyReport.summary``."""
    equity = report.equity
    streams = report.streams
    return {
        "day": report.day,
        "equity_asset": report.equity_asset,
        "equity_start": _s(equity.start),
        "equity_end": _s(equity.end),
        "equity_change": _s(
            equity.end - equity.start
            if equity.end is not None and equity.start is not None
            else None
        ),
        "realized_pnl": _s(report.totals.realized_pnl),
        "fees": {asset: _s(fee) for asset, fee in report.totals.fees.items()},
        "net_pnl": _s(report.totals.net_pnl),
        "trades": report.totals.trades,
        "win_rate": report.performance.win_rate,
        "profit_factor": _s(report.performance.profit_factor),
        "max_drawdown": _s(report.performance.drawdown.amount),
        "notional": _s(report.totals.notional),
        "open_positions": len(report.positions),
        "unrealized_pnl": _s(sum((p.unrealized_pnl for p in report.positions), Decimal(0))),
        "reconciles": report.drift.reconciles,
        "drift_incidents": len(report.drift.incidents),
        "mismatches_repaired": report.drift.repaired,
        "disconnects": sum(s.disconnects for s in streams),
        "stale": sum(s.stale for s in streams),
        "uptime": report.uptime.share,
        "runs_started": report.uptime.runs_started,
        "plugin_errors": sum(e.count for e in report.plugin_errors),
        "kill_switch_trips": len(report.kill_switch),
        "log_suppressed": report.log.suppressed,
    }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
