"""The report's tables as data: header, rows of text and numeric columns, one function per table.

``markdown.py`` and ``page.py`` only render these, so both files always show the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .model import EquityPoint, Report
from .text import clock, duration, fees, num, stop_text

Row = tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """One table: every cell already formatted as text."""

    header: Row
    rows: tuple[Row, ...]
    numeric: tuple[int, ...] = ()
    """Indexes of the columns holding numbers (right-aligned in HTML)."""
    total: Row | None = None
    """A totals row after the others (emphasised where the format allows), if any."""


def hourly(points: Sequence[EquityPoint]) -> list[EquityPoint]:
    """The last sample of each hour (the JSON and HTML files keep every sample)."""
    last: dict[int, EquityPoint] = {}
    for point in points:
        last[point.ts // 3_600_000] = point
    return list(last.values())


def balances(r: Report) -> Table:
    return Table(
        header=("asset", "start of day", "end of day", "change"),
        rows=tuple(
            (b.asset, num(b.start), num(b.end), num(b.change, sign=True)) for b in r.balances
        ),
        numeric=(1, 2, 3),
    )


def trading(r: Report) -> Table:
    """Per symbol, then a total row when there was any trading."""
    t = r.totals
    total = (
        "total",
        str(t.trades),
        "",
        "",
        "",
        num(t.notional),
        num(t.realized_pnl, sign=True),
        fees(t.fees),
    )
    return Table(
        header=(
            "symbol",
            "trades",
            "buy/sell",
            "maker/taker",
            "volume",
            "notional",
            "realized PnL",
            "fees",
        ),
        rows=tuple(
            (
                s.symbol,
                str(s.trades),
                f"{s.buys}/{s.sells}",
                f"{s.maker}/{s.taker}",
                num(s.volume),
                num(s.notional),
                num(s.realized_pnl, sign=True),
                fees(s.fees),
            )
            for s in r.symbols
        ),
        numeric=(1, 4, 5, 6),
        total=total if r.symbols else None,
    )


def positions(r: Report) -> Table:
    return Table(
        header=("symbol", "side", "amount", "entry", "mark", "unrealized PnL"),
        rows=tuple(
            (
                p.symbol,
                p.side,
                num(p.amount),
                num(p.entry_price),
                num(p.mark),
                num(p.unrealized_pnl),
            )
            for p in r.positions
        ),
        numeric=(2, 3, 4, 5),
    )


def equity_hourly(r: Report) -> Table:
    """The last equity sample of each hour (the Markdown file's; the page has the chart)."""
    return Table(
        header=("time", "equity"),
        rows=tuple((clock(p.ts), num(p.equity)) for p in hourly(r.equity.points)),
        numeric=(1,),
    )


def drift(r: Report) -> Table:
    """Each mismatch of each reconcile, then the reconciles without any (errors, warnings)."""
    incidents = r.drift.incidents
    return Table(
        header=("time", "status", "reason", "kind", "key", "cache", "exchange", "repaired"),
        rows=tuple(
            (
                clock(i.at),
                i.status,
                i.reason,
                m.kind,
                m.key,
                m.cache_value or "-",
                m.exchange_value or "-",
                "yes" if m.repaired else "no",
            )
            for i in incidents
            for m in i.mismatches
        )
        + tuple(
            (clock(i.at), i.status, i.reason, "-", "-", "-", "-", i.error or "-")
            for i in incidents
            if not i.mismatches
        ),
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
        numeric=(1, 2, 3, 4),
    )


def stream_periods(r: Report) -> Table:
    return Table(
        header=("stream", "state", "from", "to", "for", "reason"),
        rows=tuple(
            (
                p.stream,
                p.state,
                clock(p.start),
                clock(p.end),
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
                clock(u.up_from),
                clock(u.up_to),
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


def most_suppressed(r: Report) -> Table:
    return Table(
        header=("most suppressed", "count"),
        rows=tuple((k, str(v)) for k, v in r.log.top_suppressed.items()),
        numeric=(1,),
    )
