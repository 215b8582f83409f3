"""The report's tables as data: header, rows of text and numeric columns, one function per table.

``markdown.py`` and ``page.py`` only render these, so both files always show the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from framework.money import money

from .model import EquityPoint, KillSwitchFigure, PositionFigure, Report
from .text import day_clock, duration, fees, num, pct, plural, stop_text

Row = tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """One table: every cell already formatted as text."""

    header: Row
    rows: tuple[Row, ...]
    numeric: tuple[int, ...] = ()
    """Indexes of the columns holding numbers (right-aligned, header too)."""
    pnl: tuple[int, ...] = ()
    """Indexes of the columns holding gains and losses (coloured in HTML)."""
    total: Row | None = None
    """A totals row after the others (emphasised where the format allows), if any."""


HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def bucket(r: Report) -> tuple[int, str]:
    """The equity table's step: an hour for a report of up to two days, else a day."""
    return (HOUR_MS, "hour") if r.end - r.start <= 2 * DAY_MS else (DAY_MS, "day")


def hourly(points: Sequence[EquityPoint], step: int = HOUR_MS) -> list[EquityPoint]:
    """The last sample of each hour (or ``step``); the JSON and HTML files keep every sample."""
    last: dict[int, EquityPoint] = {}
    for point in points:
        last[point.ts // step] = point
    return list(last.values())


def balances(r: Report) -> Table:
    return Table(
        header=("asset", "start", "end", "change"),
        rows=tuple(
            (
                b.asset,
                money(b.start, b.asset),
                money(b.end, b.asset),
                money(b.change, b.asset, sign=True),
            )
            for b in r.balances
        ),
        numeric=(1, 2, 3),
        pnl=(3,),
    )


def strategies(r: Report) -> Table:
    """Per strategy instance: trades, PnL, win rate, profit factor, fees."""
    a = r.equity_asset
    return Table(
        header=(
            "strategy",
            "symbols",
            "trades",
            "realized PnL",
            "unrealized PnL",
            "win rate",
            "profit factor",
            "fees",
        ),
        rows=tuple(
            (
                s.strategy,
                ", ".join(s.symbols),
                str(s.trades),
                money(s.realized_pnl, a, sign=True),
                money(s.unrealized_pnl, a, sign=True),
                f"{pct(s.win_rate)} ({s.wins}/{s.closing_fills})" if s.closing_fills else "-",
                "-" if s.profit_factor is None else f"{s.profit_factor:.2f}",
                fees(s.fees),
            )
            for s in r.strategies
        ),
        numeric=(2, 3, 4, 5, 6, 7),
        pnl=(3, 4),
    )


def trades(r: Report) -> Table:
    """Every trade (fill) of the period, oldest first."""
    a = r.equity_asset
    return Table(
        header=("time", "strategy", "symbol", "side", "quantity", "price", "fee", "realized PnL"),
        rows=tuple(
            (
                day_clock(t.at, r.start, r.end),
                t.strategy,
                t.symbol,
                t.side,
                num(t.qty),
                num(t.price),
                f"{money(t.fee, t.fee_asset)} {t.fee_asset}",
                money(t.realized_pnl, a, sign=True) if t.realized_pnl else "",
            )
            for t in r.trades
        ),
        numeric=(4, 5, 6, 7),
        pnl=(7,),
    )


def trades_note(r: Report) -> str:
    """Says how many older trades the list leaves out (empty when none)."""
    if not r.trades_omitted:
        return ""
    return (
        f"The {plural(r.trades_omitted, 'older trade')} of the period are not listed: "
        "`tradeloop trades --csv PATH` exports every one."
    )


def trading(r: Report) -> Table:
    """Per symbol, then a total row when there was any trading."""
    t, a = r.totals, r.equity_asset
    unrealized = sum((s.unrealized_pnl for s in r.symbols), Decimal(0))
    total = (
        "total",
        str(t.trades),
        "",
        "",
        money(t.notional, a),
        money(t.realized_pnl, a, sign=True),
        money(unrealized, a, sign=True),
        fees(t.fees),
    )
    return Table(
        header=(
            "symbol",
            "trades",
            "buy/sell",
            "volume",
            "notional",
            "realized PnL",
            "unrealized PnL",
            "fees",
        ),
        rows=tuple(
            (
                s.symbol,
                str(s.trades),
                f"{s.buys}/{s.sells}",
                num(s.volume),
                money(s.notional, a),
                money(s.realized_pnl, a, sign=True),
                money(s.unrealized_pnl, a, sign=True),
                fees(s.fees),
            )
            for s in r.symbols
        ),
        numeric=(1, 2, 3, 4, 5, 6, 7),
        pnl=(5, 6),
        total=total if r.symbols else None,
    )


def side(p: PositionFigure) -> str:
    """``LONG``/``SHORT`` for a one-way (``BOTH``) position, by the sign of its amount."""
    if p.side != "BOTH":
        return p.side
    return "LONG" if p.amount > 0 else "SHORT"


def positions(r: Report) -> Table:
    return Table(
        header=("symbol", "side", "amount", "entry", "mark", "unrealized PnL"),
        rows=tuple(
            (
                p.symbol,
                side(p),
                num(abs(p.amount)),
                num(p.entry_price),
                num(p.mark),
                money(p.unrealized_pnl, r.equity_asset, sign=True),
            )
            for p in r.positions
        ),
        numeric=(2, 3, 4, 5),
        pnl=(5,),
    )


def equity_hourly(r: Report) -> Table:
    """The last equity sample of each hour (the Markdown file's; the page has the chart)."""
    return Table(
        header=("time", f"equity ({r.equity_asset})"),
        rows=tuple(
            (day_clock(p.ts, r.start, r.end), money(p.equity, r.equity_asset))
            for p in hourly(r.equity.points, bucket(r)[0])
        ),
        numeric=(1,),
    )


def drift(r: Report) -> Table:
    """Each mismatch of each reconcile."""
    return Table(
        header=("time", "status", "reason", "kind", "key", "cache", "exchange", "repaired"),
        rows=tuple(
            (
                day_clock(i.at, r.start, r.end),
                i.status,
                i.reason,
                m.kind,
                m.key,
                m.cache_value or "-",
                m.exchange_value or "-",
                "yes" if m.repaired else "no",
            )
            for i in r.drift.incidents
            for m in i.mismatches
        ),
    )


def failed_reconciles(r: Report) -> Table:
    """Reconciles that failed or warned without a mismatch, the same error on one row."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i in r.drift.incidents:
        if not i.mismatches:
            groups.setdefault((i.status, i.reason, i.error or "-"), []).append(i.at)
    return Table(
        header=("first", "last", "times", "status", "reason", "error"),
        rows=tuple(
            (
                day_clock(min(times), r.start, r.end),
                day_clock(max(times), r.start, r.end),
                str(len(times)),
                status,
                reason,
                error,
            )
            for (status, reason, error), times in sorted(groups.items(), key=lambda g: min(g[1]))
        ),
        numeric=(2,),
    )


def streams(r: Report) -> Table:
    return Table(
        header=("stream", "connects", "disconnects", "stale", "resyncs", "down"),
        rows=tuple(
            (
                s.stream,
                str(s.connects),
                str(s.disconnects),
                str(s.stale),
                str(s.resyncs),
                duration(s.down_ms),
            )
            for s in r.streams
        ),
        numeric=(1, 2, 3, 4, 5),
    )


def stream_periods(r: Report) -> Table:
    return Table(
        header=("stream", "state", "from", "to", "for", "reason"),
        rows=tuple(
            (
                p.stream,
                p.state,
                day_clock(p.start, r.start, r.end),
                day_clock(p.end, r.start, r.end),
                duration(p.end - p.start),
                p.reason,
            )
            for s in r.streams
            for p in s.periods
        ),
    )


def uptime(r: Report) -> Table:
    return Table(
        header=("run", "up from", "up to", "for", "stop"),
        rows=tuple(
            (
                u.run_id,
                day_clock(u.up_from, r.start, r.end),
                day_clock(u.up_to, r.start, r.end),
                duration(u.up_to - u.up_from),
                stop_text(u),
            )
            for u in r.uptime.runs
        ),
    )


def plugin_errors(r: Report) -> Table:
    return Table(
        header=("plugin", "hook", "count", "disabled", "last error"),
        rows=tuple(
            (e.plugin, e.hook, str(e.count), "yes" if e.disabled else "no", e.last_error)
            for e in r.plugin_errors
        ),
        numeric=(2,),
    )


def kill_switch(r: Report) -> Table:
    return Table(
        header=("time (UTC)", "limit", "value", "threshold", "actions", "cleared"),
        rows=tuple(
            (
                day_clock(k.at, r.start, r.end),
                k.limit,
                f"{k.value:.2%}" if k.limit == "drawdown" else f"{k.value:f} {k.asset}",
                f"{k.threshold:.2%}" if k.limit == "drawdown" else f"{k.threshold:f} {k.asset}",
                "; ".join(k.actions),
                _cleared(k),
            )
            for k in r.kill_switch
        ),
        numeric=(2, 3),
    )


def most_suppressed(r: Report) -> Table:
    return Table(
        header=("most suppressed", "count"),
        rows=tuple((k, str(v)) for k, v in r.log.top_suppressed.items()),
        numeric=(1,),
    )


def _cleared(k: KillSwitchFigure) -> str:
    """When and by whom a trip was cleared (UTC), or that it still holds."""
    if k.cleared_at is None:
        return "not cleared"
    when = datetime.fromtimestamp(k.cleared_at / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{when} by {k.cleared_by}"
