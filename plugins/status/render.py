"""Renderers of a ``StatusSnapshot``: one log line, or a rich panel for the live display.

Both work from the snapshot alone (no bot, no I/O), so they are cheap to call, safe to run in a
worker thread and tested with fixed snapshots.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from framework.money import money

from .model import PositionRow, ReconcileInfo, StatusSnapshot, StrategyRow, StreamRow

STATE_STYLES = {
    "connected": "green",
    "resynced": "green",
    "disconnected": "red",
    "stale": "yellow",
}
RECONCILE_STYLES = {"ok": "green", "warning": "yellow", "error": "red"}
STRATEGY_STYLES = {"running": "green", "held": "yellow", "paused": "red"}
VENUE_STYLES = {"SIMULATED": "bold cyan", "TESTNET": "bold yellow", "LIVE": "bold white on red"}


# --------------------------------------------------------------------------- numbers


def number(value: Decimal) -> str:
    """A price or quantity without trailing zeros or exponent: ``0.010`` -> ``0.01``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def cash(value: Decimal, snapshot: StatusSnapshot, *, signed: bool = False) -> str:
    """An amount in the account's margin asset (``equity_asset``), rounded to that asset's
    display precision like the daily report (``framework.money``): ``+0.12 USDT``."""
    return f"{money(value, snapshot.equity_asset, sign=signed)} {snapshot.equity_asset}"


def aligned(values: list[Decimal | None]) -> list[str]:
    """``number`` of each value, padded to the column's most decimals so the points line up
    (``-`` for an unknown one): ``43000.1``, ``43012.35`` -> ``43000.10``, ``43012.35``."""
    texts = ["-" if v is None else number(v) for v in values]
    places = max((len(t.partition(".")[2]) for t in texts if t != "-"), default=0)
    out = []
    for text in texts:
        if text != "-" and places:
            whole, _, decimals = text.partition(".")
            text = f"{whole}.{decimals.ljust(places, '0')}"
        out.append(text)
    return out


def age(seconds: float) -> str:
    """A duration, to the second: ``12s``, ``3m04s``, ``1h02m``, ``2d03h``."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def clock_time(at: float) -> str:
    """``HH:MM:SS`` UTC."""
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def rate(value: float | None) -> str:
    """Events per second with one decimal; ``-`` before there are two samples."""
    return "-" if value is None else f"{value:.1f}"


def plural(count: int, word: str, many: str = "") -> str:
    """``1 fill``, ``2 fills``; ``many`` for irregular plurals."""
    return f"{count} {word if count == 1 else many or word + 's'}"


# ----------------------------------------------------------------- shared segments


def side(row: PositionRow) -> str:
    """``LONG``/``SHORT``: a hedge-mode side as it is, a one-way (``BOTH``) one by its sign."""
    if row.side != "BOTH":
        return row.side
    return "LONG" if row.amount > 0 else "SHORT"


def position_text(row: PositionRow, asset: str) -> str:
    """``BTCUSDT LONG 0.01 @ 43000.1 mark 43012.2 uPnL +0.12`` (the size without its sign,
    the PnL rounded to ``asset``'s display precision)."""
    mark = "-" if row.mark_price is None else number(row.mark_price)
    return (
        f"{row.symbol} {side(row)} {number(abs(row.amount))} @ {number(row.entry_price)} "
        f"mark {mark} uPnL {money(row.unrealized_pnl, asset, sign=True)}"
    )


def equity_text(snapshot: StatusSnapshot) -> str:
    """``10,063.46 USDT`` (wallet + unrealized PnL); ``-`` before the asset's balance is known."""
    if snapshot.equity is None:
        return "-"
    return cash(snapshot.equity, snapshot)


def kill_switch_text(snapshot: StatusSnapshot) -> str:
    """``TRIPPED: daily loss ... (tradeloop resume)``, ``armed (daily loss 500 USDT)`` or
    ``off`` (no limit set); the day's PnL after it once known."""
    if snapshot.kill_switch:
        text = f"TRIPPED: {snapshot.kill_switch}; trading halted until `tradeloop resume`"
    elif snapshot.kill_switch_limits:
        text = f"armed ({snapshot.kill_switch_limits})"
    else:
        text = "off"
    if snapshot.day_pnl is not None:
        text += f"; day PnL {money(snapshot.day_pnl, snapshot.equity_asset, sign=True)}"
    return text


def strategy_text(row: StrategyRow) -> str:
    """``grid1 running``, ``grid1 held (reconciling)``, ``grid1 paused (ValueError: ...)``."""
    return f"{row.strategy} {row.state}" + (f" ({row.reason})" if row.reason else "")


def strategies_text(snapshot: StatusSnapshot) -> str:
    """Every strategy instance's state; ``none`` without strategies."""
    return ", ".join(strategy_text(r) for r in snapshot.strategies) or "none"


def fees_text(snapshot: StatusSnapshot) -> str:
    """``0.17 USDT`` per fee asset (``0.00 USDT`` without fills)."""
    fees = [f"{money(amount, asset)} {asset}" for asset, amount in snapshot.fees]
    return " + ".join(fees) if fees else cash(Decimal(0), snapshot)


def pnl_text(snapshot: StatusSnapshot) -> str:
    """Unrealized, realized, fees and fills."""
    return (
        f"unrealized {cash(snapshot.unrealized_pnl, snapshot, signed=True)}, "
        f"realized {cash(snapshot.realized_pnl, snapshot, signed=True)}, "
        f"fees {fees_text(snapshot)} ({plural(snapshot.fills, 'fill')})"
    )


def balances_text(snapshot: StatusSnapshot, max_rows: int) -> str:
    """``9,999.65 USDT`` per asset, at most ``max_rows``."""
    shown = [f"{money(b.wallet_balance, b.asset)} {b.asset}" for b in snapshot.balances[:max_rows]]
    hidden = len(snapshot.balances) - len(shown)
    if hidden > 0:
        shown.append(f"+{hidden} more")
    return ", ".join(shown) if shown else "none"


def reconcile_text(snapshot: StatusSnapshot) -> str:
    """Status, time, age and mismatches of the last reconcile; or why there is none."""
    info = snapshot.reconcile
    if info is None:
        return "none yet" if snapshot.reconciliation_enabled else "off (no reconciliation plugin)"
    return _reconcile_line(info, snapshot.at)


def _reconcile_line(info: ReconcileInfo, now: float) -> str:
    text = (
        f"{info.status} at {clock_time(info.at)} UTC ({age(now - info.at)} ago), "
        f"{plural(info.mismatches, 'mismatch', 'mismatches')}"
    )
    if info.mismatches:
        text += f" ({info.repaired} repaired)"
    if info.error:
        text += f", error: {info.error}"
    runs = plural(info.runs, "run")
    if not info.mismatches_total:
        return f"{text}; {runs}"
    return f"{text}; {runs}, {plural(info.mismatches_total, 'mismatch', 'mismatches')} in total"


def account_text(snapshot: StatusSnapshot) -> str:
    """``live``; ``DEGRADED since 12:00:01 UTC (REST every 5s, 12 polls), confirmed 3s ago``;
    ``stream down, confirmed 40s ago``; ``not confirmed yet``; ``none`` without an exchange."""
    info = snapshot.account
    if info is None:
        return "none"
    if info.live:
        return "live (user-data stream)"
    confirmed = (
        "not confirmed yet"
        if info.age is None
        else f"confirmed {age(info.age)} ago ({'REST' if info.source == 'rest' else 'stream'})"
    )
    if not info.degraded:
        return f"stream down, {confirmed}" if info.age is not None else confirmed
    text = "DEGRADED"
    if info.degraded_since is not None:
        text += f" since {clock_time(info.degraded_since)} UTC"
    if info.poll_interval is not None:
        text += f" (REST every {info.poll_interval:g}s, {plural(info.polls, 'poll')})"
    return f"{text}, {confirmed}"


def stream_text(row: StreamRow, now: float) -> str:
    """``market connected 1m02s`` plus reconnects, the reason and a pending resync."""
    text = f"{row.stream} {row.state} {age(now - row.since)}"
    extras = []
    if row.reconnects:
        extras.append(plural(row.reconnects, "reconnect"))
    if row.state != "connected" and row.state != "resynced" and row.reason:
        extras.append(row.reason)
    if row.needs_resync:
        extras.append("resync needed")
    return f"{text} ({', '.join(extras)})" if extras else text


def streams_text(snapshot: StatusSnapshot) -> str:
    """Every stream's state; ``none`` without an exchange or before the first announcement."""
    rows = [stream_text(row, snapshot.at) for row in snapshot.streams]
    return ", ".join(rows) if rows else "none"


def events_text(snapshot: StatusSnapshot) -> str:
    """``5.0 ticks/s, 0.2 account events/s``."""
    return (
        f"{rate(snapshot.ticks_per_s)} ticks/s, "
        f"{rate(snapshot.account_events_per_s)} account events/s"
    )


def plugins_text(snapshot: StatusSnapshot) -> str:
    """``ok``, or failures per plugin, disabled plugins, dropped events and the last error."""
    parts = []
    if snapshot.plugin_errors:
        parts.append("errors " + ", ".join(f"{n}={c}" for n, c in snapshot.plugin_errors))
    if snapshot.disabled_plugins:
        disabled = (f"{name} ({why})" for name, why in snapshot.disabled_plugins)
        parts.append("disabled " + ", ".join(disabled))
    if snapshot.dropped_events:
        parts.append(f"{snapshot.dropped_events} queued events dropped")
    if snapshot.last_error:
        parts.append(f"last: {snapshot.last_error}")
    return "; ".join(parts) if parts else "ok"


# ------------------------------------------------------------------------ log line


def render_line(snapshot: StatusSnapshot, *, max_rows: int = 20) -> str:
    """The whole status as one line, segments separated by `` | `` (``up 1h02m | ...``)."""
    positions = [position_text(row, snapshot.equity_asset) for row in snapshot.positions[:max_rows]]
    hidden = len(snapshot.positions) - len(positions)
    if hidden > 0:
        positions.append(f"+{hidden} more")
    segments = [
        *([snapshot.venue] if snapshot.venue else []),
        f"up {age(snapshot.uptime_s)}",
        f"exchange {snapshot.exchange or 'none'}",
        f"equity {equity_text(snapshot)}",
        *(
            [f"kill switch {kill_switch_text(snapshot)}"]
            if snapshot.kill_switch or snapshot.kill_switch_limits
            else []
        ),
        f"strategies {strategies_text(snapshot)}",
        "positions " + ("; ".join(positions) if positions else "none"),
        f"pnl {pnl_text(snapshot)}",
        f"balances {balances_text(snapshot, max_rows)}",
        f"open orders {snapshot.open_orders}",
        *([f"account {account_text(snapshot)}"] if snapshot.account is not None else []),
        f"reconcile {reconcile_text(snapshot)}",
        f"streams {streams_text(snapshot)}",
        f"events {events_text(snapshot)}",
        f"plugins {plugins_text(snapshot)}",
    ]
    return " | ".join(segments)


# --------------------------------------------------------------------------- panel


def _signed(value: Decimal, snapshot: StatusSnapshot, *, unit: bool = True) -> Text:
    style = "green" if value > 0 else "red" if value < 0 else ""
    text = (
        cash(value, snapshot, signed=True)
        if unit
        else money(value, snapshot.equity_asset, sign=True)
    )
    return Text(text, style=style)


def _positions_table(snapshot: StatusSnapshot, max_rows: int) -> RenderableType:
    if not snapshot.positions:
        return Text("no open positions", style="dim")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    headers = ("Position", "Side", "Size", "Entry", "Mark", f"uPnL {snapshot.equity_asset}")
    for header in headers:
        table.add_column(header, justify="left" if header in headers[:2] else "right")
    rows = snapshot.positions[:max_rows]
    sizes = aligned([abs(row.amount) for row in rows])
    entries = aligned([row.entry_price for row in rows])
    marks = aligned([row.mark_price for row in rows])
    for index, row in enumerate(rows):
        table.add_row(
            row.symbol,
            side(row),
            sizes[index],
            entries[index],
            marks[index],
            _signed(row.unrealized_pnl, snapshot, unit=False),
        )
    hidden = len(snapshot.positions) - max_rows
    if hidden > 0:
        table.add_row(f"+{hidden} more", "", "", "", "", "")
    return table


def _streams_cell(snapshot: StatusSnapshot) -> Text:
    if not snapshot.streams:
        return Text("none", style="dim")
    cell = Text()
    for index, row in enumerate(snapshot.streams):
        if index:
            cell.append(" · ")
        cell.append(stream_text(row, snapshot.at), style=STATE_STYLES.get(row.state, ""))
    return cell


def _strategies_cell(snapshot: StatusSnapshot) -> Text:
    if not snapshot.strategies:
        return Text("none", style="dim")
    cell = Text()
    for index, row in enumerate(snapshot.strategies):
        if index:
            cell.append(" · ")
        cell.append(strategy_text(row), style=STRATEGY_STYLES.get(row.state, ""))
    return cell


def render_panel(snapshot: StatusSnapshot, *, max_rows: int = 20) -> RenderableType:
    """The live display: a positions table and one row per topic, in a panel."""
    pnl = Text.assemble(
        "unrealized ",
        _signed(snapshot.unrealized_pnl, snapshot),
        " · realized ",
        _signed(snapshot.realized_pnl, snapshot),
        f" · fees {fees_text(snapshot)} ({plural(snapshot.fills, 'fill')})",
    )
    info = snapshot.reconcile
    reconcile = Text(
        reconcile_text(snapshot),
        style=RECONCILE_STYLES.get(info.status, "") if info is not None else "dim",
    )
    plugins = plugins_text(snapshot)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("Equity", equity_text(snapshot))
    grid.add_row(
        "Kill switch",
        Text(kill_switch_text(snapshot), style="bold red" if snapshot.kill_switch else ""),
    )
    grid.add_row("Strategies", _strategies_cell(snapshot))
    grid.add_row("PnL", pnl)
    grid.add_row("Balances", balances_text(snapshot, max_rows))
    grid.add_row("Open orders", str(snapshot.open_orders))
    account = snapshot.account
    grid.add_row(
        "Account",
        Text(
            account_text(snapshot),
            style="dim"
            if account is None
            else "green"
            if account.live
            else "bold red"
            if account.degraded
            else "yellow",
        ),
    )
    grid.add_row("Reconcile", reconcile)
    grid.add_row("Streams", _streams_cell(snapshot))
    grid.add_row("Events", events_text(snapshot))
    grid.add_row("Plugins", Text(plugins, style="green" if plugins == "ok" else "red"))
    title = Text.assemble(("tradeloop", "bold"))
    if snapshot.venue:
        title.append(" · ")
        title.append(snapshot.venue, style=VENUE_STYLES.get(snapshot.venue, "bold"))
    title.append(f" · {snapshot.exchange or 'no exchange'}")
    if snapshot.kill_switch:
        title.append(" · TRADING HALTED (kill switch)", style="bold red")
    subtitle = f"up {age(snapshot.uptime_s)} · {clock_time(snapshot.at)} UTC"
    return Panel(
        Group(_positions_table(snapshot, max_rows), Text(""), grid),
        title=title,
        title_align="left",
        subtitle=subtitle,
        subtitle_align="right",
        box=box.ROUNDED,
    )
