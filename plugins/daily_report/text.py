"""Formatting shared by the Markdown and HTML renderings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from framework.money import money

from .model import Report, RunFigure


def num(value: Decimal | None, *, sign: bool = False) -> str:
    """A decimal without trailing zeros (``-`` when unknown); ``sign`` adds ``+``."""
    if value is None:
        return "-"
    text = f"{value.normalize():f}"
    if text == "-0":
        text = "0"
    return f"+{text}" if sign and value > 0 else text


MINUS = "\u2212"


def pct(share: float | None, *, sign: bool = False) -> str:
    """``0.1234`` as ``12.34 %`` (``-`` when unknown)."""
    if share is None:
        return "-"
    text = f"{share * 100:.2f} %"
    return f"+{text}" if sign and share > 0 and text != "0.00 %" else text


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 trade``, ``2 trades`` (``many`` for an irregular plural)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def day_clock(ms: int | None, start: int, end: int) -> str:
    """``HH:MM:SS`` when the report covers one day, ``MM-DD HH:MM:SS`` for a longer period."""
    if ms is None:
        return "-"
    if end - start <= 86_400_000:
        return (
            "24:00:00" if ms == end else datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")
        )
    fmt = "%m-%d %H:%M:%S"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime(fmt)


def clock(ms: int | None) -> str:
    """``HH:MM:SS`` (UTC) of an epoch-ms time; the date too when it is not that day's."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")


def stamp(ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS UTC``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(ms: int) -> str:
    """``1h 02m 03s`` style."""
    seconds = max(0, ms) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def fees(values: dict[str, Decimal]) -> str:
    """``0.12 USDT, 0.001 BNB``, each rounded to its asset's precision."""
    return ", ".join(f"{money(v, asset)} {asset}" for asset, v in values.items()) or "0"


def equity_change(report: Report) -> tuple[Decimal | None, float | None]:
    """Equity's change over the period and its share of the starting equity."""
    eq = report.equity
    if eq.end is None or eq.start is None:
        return None, None
    change = eq.end - eq.start
    return change, float(change / eq.start) if eq.start > 0 else None


def headline(report: Report) -> list[tuple[str, str]]:
    """What a trader reads first: equity, PnL, win rate, profit factor, drawdown, fees."""
    t, eq, p = report.totals, report.equity, report.performance
    a = report.equity_asset
    change, share = equity_change(report)
    unrealized = sum((s.unrealized_pnl for s in report.symbols), Decimal(0))
    dd = p.drawdown
    return [
        (
            "Equity",
            f"{money(eq.start, a)} → {money(eq.end, a)} {a} "
            f"({money(change, a, sign=True)}, {pct(share, sign=True)})",
        ),
        ("Realized PnL", f"{money(t.realized_pnl, a, sign=True)} {a}"),
        ("Unrealized PnL", f"{money(unrealized, a, sign=True)} {a} (open positions at the end)"),
        ("Fees", fees(t.fees)),
        ("Net realized PnL", f"{money(t.net_pnl, a, sign=True)} {a} (realized minus fees)"),
        (
            "Win rate",
            f"{pct(p.win_rate)} ({p.wins} won, {p.losses} lost of "
            f"{plural(p.closing_fills, 'closing fill')})"
            if p.closing_fills
            else "- (no closing fill)",
        ),
        ("Profit factor", profit_factor(p.profit_factor, p.gross_profit)),
        (
            "Max drawdown",
            f"{money(-dd.amount, a, sign=True)} {a} ({pct(-dd.share)})" if dd.amount else "none",
        ),
        ("Trades", f"{t.trades} (notional {money(t.notional, a)} {a})"),
        ("Open positions", str(len(report.positions))),
    ]


def profit_factor(value: Decimal | None, gross_profit: Decimal) -> str:
    """The profit factor; ``∞`` with wins and no loss, ``-`` with neither."""
    if value is not None:
        return f"{value:.2f}"
    return "∞ (no losing fill)" if gross_profit else "-"


def operations(report: Report) -> list[tuple[str, str]]:
    """The operator's summary lines (reconciliation, streams, uptime, errors, logging)."""
    drift = report.drift
    up = report.uptime
    disconnects = sum(s.disconnects for s in report.streams)
    stale = sum(s.stale for s in report.streams)
    return [
        (
            "Reconciliation",
            f"{plural(drift.reconciles, 'run')}, "
            f"{sum(1 for i in drift.incidents if i.mismatches)} with drift, "
            f"{sum(1 for i in drift.incidents if not i.mismatches and i.status == 'error')} "
            "failed, "
            f"{plural(drift.repaired, 'repair')}",
        ),
        ("Streams", f"{plural(disconnects, 'disconnect')}, {stale} stale"),
        (
            "Uptime",
            f"{up.share * 100:.2f} % ({duration(up.up_ms)}), {plural(up.runs_started, 'start')}",
        ),
        ("Plugin errors", str(sum(e.count for e in report.plugin_errors))),
        *(
            [("Kill switch", f"tripped {plural(len(report.kill_switch), 'time')}")]
            if report.kill_switch
            else []
        ),
        (
            "Log",
            f"{plural(report.log.emitted, 'line')}, {report.log.suppressed} suppressed, "
            f"{report.log.aggregated_lines} aggregated"
            if report.log.sampled
            else "no log statistics (smart_logging off)",
        ),
    ]


def stop_text(run: RunFigure) -> str:
    """How a run ended: its stop reason, still running, or no clean stop recorded."""
    if run.clean_stop:
        return run.stop_reason
    return "still running" if run.running else "no clean stop recorded (last seen)"


def title(report: Report) -> str:
    """``Daily report 2024-05-01 (UTC)`` or ``Report 2024-05-01 to 2024-05-07 (UTC)``."""
    first, _, last = report.day.partition("_")
    if not last:
        return f"Daily report {first} (UTC)"
    return f"Report {first} to {last} (UTC)"
