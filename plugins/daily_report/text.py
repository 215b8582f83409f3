"""Formatting shared by the Markdown and HTML renderings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from .model import Report, RunFigure


def num(value: Decimal | None, *, sign: bool = False) -> str:
    """A decimal without trailing zeros (``-`` when unknown); ``sign`` adds ``+``."""
    if value is None:
        return "-"
    text = f"{value.normalize():f}"
    if text == "-0":
        text = "0"
    return f"+{text}" if sign and value > 0 else text


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
    """``0.12 USDT, 0.001 BNB``."""
    return ", ".join(f"{num(v)} {asset}" for asset, v in values.items()) or "0"


def headline(report: Report) -> list[tuple[str, str]]:
    """The summary lines both renderings start with."""
    t, eq = report.totals, report.equity
    change = eq.end - eq.start if eq.end is not None and eq.start is not None else None
    drift = report.drift
    up = report.uptime
    disconnects = sum(s.disconnects for s in report.streams)
    stale = sum(s.stale for s in report.streams)
    return [
        ("Equity", f"{num(eq.start)} → {num(eq.end)} {eq.asset} ({num(change, sign=True)})"),
        ("Realized PnL", f"{num(t.realized_pnl, sign=True)} {report.equity_asset}"),
        ("Fees", fees(t.fees)),
        ("Net PnL", f"{num(t.net_pnl, sign=True)} {report.equity_asset}"),
        ("Trades", f"{t.trades} (notional {num(t.notional)})"),
        ("Open positions", str(len(report.positions))),
        (
            "Reconciliation",
            f"{drift.reconciles} runs, {len(drift.incidents)} with drift, {drift.repaired} repairs",
        ),
        ("Streams", f"{disconnects} disconnects, {stale} stale"),
        (
            "Uptime",
            f"{up.share * 100:.2f} % ({duration(up.up_ms)}), {up.runs_started} starts",
        ),
        ("Plugin errors", str(sum(e.count for e in report.plugin_errors))),
        (
            "Log",
            f"{report.log.emitted} lines, {report.log.suppressed} suppressed, "
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
