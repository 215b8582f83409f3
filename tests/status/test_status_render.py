"""The renderers, from fixed snapshots: the log line, the live panel, number formats."""

from __future__ import annotations

import io
from decimal import Decimal

from rich.console import Console

from framework.money import money
from plugins.daily_report.text import money as report_money
from plugins.status import PositionRow, StatusSnapshot, render_line, render_panel
from plugins.status.model import BalanceRow, ReconcileInfo
from plugins.status.render import age, number

from .helpers import T0, sample_snapshot


def panel_text(snapshot: StatusSnapshot, *, width: int = 100, max_rows: int = 20) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(render_panel(snapshot, max_rows=max_rows))
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def test_log_line_of_a_busy_bot() -> None:
    assert render_line(sample_snapshot()) == (
        "up 1h02m | exchange binance_futures | equity 9,999.43 USDT"
        " | strategies grid1 running, trend1 paused (ValueError: bad signal)"
        " | positions BTCUSDT LONG 0.01 @ 43000.1 mark 43012.35 uPnL +0.12"
        " | pnl unrealized +0.12 USDT, realized -0.35 USDT, fees 0.34 USDT (2 fills)"
        " | balances 9,999.31 USDT | open orders 1"
        " | reconcile warning at 23:15:13 UTC (12s ago), 1 mismatch (1 repaired);"
        " 5 runs, 2 mismatches in total"
        " | streams market connected 1h02m,"
        " user_data connected 2m05s (1 reconnect, resync needed)"
        " | events 9.8 ticks/s, 0.2 account events/s | plugins ok"
    )


def test_log_line_degrades_without_exchange_reconciliation_or_ticks() -> None:
    empty = StatusSnapshot(at=T0, uptime_s=0.0, exchange="")
    assert render_line(empty) == (
        "up 0s | exchange none | equity - | strategies none | positions none"
        " | pnl unrealized 0.00 USDT, realized 0.00 USDT, fees 0.00 USDT (0 fills)"
        " | balances none | open orders 0 | reconcile off (no reconciliation plugin) | streams none"
        " | events - ticks/s, - account events/s | plugins ok"
    )
    waiting = StatusSnapshot(at=T0, uptime_s=1.0, exchange="sim", reconciliation_enabled=True)
    assert "reconcile none yet" in render_line(waiting)
    no_tick = PositionRow(
        symbol="ETHUSDT",
        side="SHORT",
        amount=Decimal("-0.5"),
        entry_price=Decimal("2000"),
        mark_price=None,
        unrealized_pnl=Decimal("1.5"),
    )
    line = render_line(sample_snapshot(positions=(no_tick,)))
    assert "positions ETHUSDT SHORT 0.5 @ 2000 mark - uPnL +1.50 |" in line


def test_log_line_shows_plugin_trouble_and_caps_rows() -> None:
    rows = tuple(
        PositionRow(
            symbol=f"S{i}USDT",
            side="BOTH",
            amount=Decimal(1),
            entry_price=Decimal(10),
            mark_price=Decimal(11),
            unrealized_pnl=Decimal(1),
        )
        for i in range(5)
    )
    snapshot = sample_snapshot(
        positions=rows,
        plugin_errors=(("journal", 5), ("strategy:grid1", 1)),
        disabled_plugins=(("journal", "5 failures in a row, last in on_fill"),),
        dropped_events=3,
        last_error="journal.on_fill: OSError: disk full",
    )
    line = render_line(snapshot, max_rows=2)
    assert "S1USDT LONG 1 @ 10 mark 11 uPnL +1.00; +3 more |" in line
    assert "S2USDT" not in line
    assert line.endswith(
        " | plugins errors journal=5, strategy:grid1=1;"
        " disabled journal (5 failures in a row, last in on_fill); 3 queued events dropped;"
        " last: journal.on_fill: OSError: disk full"
    )


def test_live_panel_shows_every_topic() -> None:
    text = panel_text(sample_snapshot())
    lines = text.splitlines()
    assert lines[0].startswith("╭─ tradeloop · binance_futures ─")
    assert lines[-1].endswith("─ up 1h02m · 23:15:25 UTC ─╯")
    assert all(len(line) == 100 for line in lines)
    row = next(line for line in lines if "BTCUSDT" in line)
    assert row.split()[1:7] == ["BTCUSDT", "LONG", "0.01", "43000.1", "43012.35", "+0.12"]
    assert "│ Equity       9,999.43 USDT" in text
    assert "│ Strategies   grid1 running · trend1 paused (ValueError: bad signal)" in text
    body = " ".join(" ".join(line.strip("│ ").split()) for line in lines)
    for expected in (
        "PnL unrealized +0.12 USDT · realized -0.35 USDT · fees 0.34 USDT (2 fills)",
        "Balances 9,999.31 USDT",
        "Open orders 1",
        "Reconcile warning at 23:15:13 UTC (12s ago), 1 mismatch (1 repaired)",
        "Streams market connected 1h02m · user_data connected 2m05s (1 reconnect, resync needed)",
        "Events 9.8 ticks/s, 0.2 account events/s",
        "Plugins ok",
    ):
        assert expected in body


def test_live_panel_without_anything_yet() -> None:
    text = panel_text(StatusSnapshot(at=T0, uptime_s=0.0, exchange=""), width=60)
    assert "tradeloop · no exchange" in text
    assert "no open positions" in text
    assert "Reconcile    off (no reconciliation plugin)" in text
    assert "Streams      none" in text


def test_money_is_rounded_to_the_asset_like_the_daily_report() -> None:
    snapshot = sample_snapshot(
        fees=(("USDT", Decimal("0.34404")), ("BNB", Decimal("0.000123456"))),
        balances=(
            BalanceRow(
                asset="BTC", wallet_balance=Decimal("0.5"), available_balance=Decimal("0.5")
            ),
        ),
        unrealized_pnl=Decimal("-0.00001"),
    )
    line = render_line(snapshot)
    assert "fees 0.34 USDT + 0.000123 BNB (2 fills)" in line
    assert "balances 0.50000000 BTC" in line
    assert "pnl unrealized 0.00 USDT," in line  # rounds to zero: no sign
    assert money(Decimal("9999.30596"), "USDT") == report_money(Decimal("9999.30596"), "USDT")


def test_panel_lines_up_the_decimal_points_of_a_column() -> None:
    rows = tuple(
        PositionRow(
            symbol=symbol,
            side="LONG",
            amount=Decimal(amount),
            entry_price=Decimal(entry),
            mark_price=Decimal(mark) if mark else None,
            unrealized_pnl=Decimal(upnl),
        )
        for symbol, amount, entry, mark, upnl in (
            ("BTCUSDT", "0.010", "43000.10", "43012.35", "0.1225"),
            ("ETHUSDT", "1.5", "2000", "", "-12"),
        )
    )
    lines = panel_text(sample_snapshot(positions=rows)).splitlines()
    btc = next(line for line in lines if "BTCUSDT" in line)
    eth = next(line for line in lines if "ETHUSDT" in line)
    assert btc.split()[1:7] == ["BTCUSDT", "LONG", "0.01", "43000.1", "43012.35", "+0.12"]
    assert eth.split()[1:7] == ["ETHUSDT", "LONG", "1.50", "2000.0", "-", "-12.00"]
    pairs = (("0.01", "1.50"), ("43000.1", "2000.0"), ("+0.12", "-12.00"))
    for mine, theirs in pairs:  # right-aligned: the points and last digits line up
        assert btc.index(mine) + len(mine) == eth.index(theirs) + len(theirs)
    header = next(line for line in lines if "Position" in line)
    assert header.split()[1:8] == ["Position", "Side", "Size", "Entry", "Mark", "uPnL", "USDT"]


def test_reconcile_without_any_mismatch_says_so_once() -> None:
    info = ReconcileInfo(
        at=T0 + 3720,
        status="ok",
        mismatches=0,
        repaired=0,
        reason="schedule",
        error="",
        runs=1,
        mismatches_total=0,
    )
    text = render_line(sample_snapshot(reconcile=info))
    assert "reconcile ok at 23:15:20 UTC (5s ago), 0 mismatches; 1 run |" in text


def test_numbers_and_ages() -> None:
    assert [number(Decimal(v)) for v in ("0.010", "43000.10", "100", "-0.0")] == [
        "0.01",
        "43000.1",
        "100",
        "0",
    ]
    assert [age(s) for s in (0, 12.9, 184, 3725, 183600, -5)] == [
        "0s",
        "12s",
        "3m04s",
        "1h02m",
        "2d03h",
        "0s",
    ]


def test_account_freshness_live_down_and_degraded() -> None:
    from msgspec.structs import replace

    from plugins.status.model import AccountFreshness
    from plugins.status.render import account_text, clock_time

    base = sample_snapshot()
    live = replace(
        base, account=AccountFreshness(live=True, degraded=False, age=0.0, source="stream")
    )
    assert "| account live (user-data stream) |" in render_line(live)
    down = replace(
        base, account=AccountFreshness(live=False, degraded=False, age=40.0, source="stream")
    )
    assert account_text(down) == "stream down, confirmed 40s ago (stream)"
    degraded = replace(
        base,
        account=AccountFreshness(
            live=False,
            degraded=True,
            age=3.0,
            source="rest",
            degraded_since=T0 - 62,
            polls=12,
            poll_interval=5.0,
        ),
    )
    assert account_text(degraded) == (
        f"DEGRADED since {clock_time(T0 - 62)} UTC (REST every 5s, 12 polls), "
        "confirmed 3s ago (REST)"
    )
    assert "DEGRADED since" in panel_text(degraded, width=140)
    unknown = replace(
        base, account=AccountFreshness(live=False, degraded=False, age=None, source="")
    )
    assert account_text(unknown) == "not confirmed yet"


def test_the_header_says_which_venue_it_trades_on() -> None:
    for venue in ("SIMULATED", "TESTNET", "LIVE"):
        snapshot = StatusSnapshot(at=T0, uptime_s=0.0, exchange="binance_futures", venue=venue)
        assert f"tradeloop · {venue} · binance_futures" in panel_text(snapshot, width=80)
        assert render_line(snapshot).startswith(f"{venue} | up ")
