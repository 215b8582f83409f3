"""The report as a trader reads it: PnL per strategy and symbol, win rate, profit factor,
drawdown, every trade, formats; a period report (a journal written through the real store)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from plugins.daily_report import build_report, write_report
from plugins.daily_report.chart import equity_svg, time_span
from plugins.daily_report.markdown import render_markdown
from plugins.daily_report.model import Report
from plugins.daily_report.page import render_html
from plugins.daily_report.performance import strategy_of
from plugins.journal import SQLiteStore
from tests.daily_report.journal_data import HOUR, START
from tests.daily_report.trader_data import DAY_MS, write_trader_journal
from tests.reporting_support import DAY_NAME

D = Decimal
FIRST = date.fromisoformat(DAY_NAME)


@pytest.fixture
async def journal_file(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "journal-sim.sqlite3"
    await write_trader_journal(path)
    return path


async def report_of(path: Path, last: date | None = None) -> Report:
    store = SQLiteStore(path)
    await store.open()
    try:
        return await build_report(store, FIRST, now_ms=START + 3 * DAY_MS, last_day=last)
    finally:
        await store.close()


async def test_win_rate_profit_factor_and_drawdown_follow_their_definitions(
    journal_file: Path,
) -> None:
    r = await report_of(journal_file)
    p = r.performance
    # closing fills: +5 (hand-placed), +10, -4 (grid1), -6 (trend1)
    assert (p.closing_fills, p.wins, p.losses) == (4, 2, 2)
    assert p.win_rate == 0.5
    assert (p.gross_profit, p.gross_loss) == (D(15), D(10))
    assert p.profit_factor == D("1.50")
    # equity 10000, 10004.2, 9998.7, 10011.3, 10007.9, 10020.4: the deepest fall is 5.5
    assert p.drawdown.amount == D("5.5")
    assert p.drawdown.share == pytest.approx(5.5 / 10004.2)
    assert (p.drawdown.peak_at, p.drawdown.trough_at) == (START + 4 * HOUR, START + 8 * HOUR)


async def test_pnl_per_strategy_and_per_symbol(journal_file: Path) -> None:
    r = await report_of(journal_file)
    by = {s.strategy: s for s in r.strategies}
    assert set(by) == {"-", "grid1", "trend1"}
    grid, trend = by["grid1"], by["trend1"]
    assert (grid.trades, grid.realized_pnl, grid.win_rate, grid.profit_factor) == (
        3,
        D(6),
        0.5,
        D("2.50"),
    )
    assert grid.unrealized_pnl is None  # BTCUSDT's open position is shared with "-"
    assert (trend.realized_pnl, trend.win_rate, trend.profit_factor) == (D(-6), 0.0, D(0))
    assert trend.unrealized_pnl == D(0)  # it holds nothing at the end
    symbols = {s.symbol: s for s in r.symbols}
    assert symbols["BTCUSDT"].unrealized_pnl == D("10.00000000")  # 0.005 x (62000 - 60000)
    assert symbols["ETHUSDT"].unrealized_pnl == D(0)
    assert [t.strategy for t in r.trades] == [
        "-",
        "-",
        "grid1",
        "grid1",
        "grid1",
        "trend1",
        "trend1",
    ]
    assert r.trades_omitted == 0


async def test_markdown_leads_with_the_trader_and_aligns_numbers(journal_file: Path) -> None:
    text = render_markdown(await report_of(journal_file))
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[:7] == [
        f"# Daily report {DAY_NAME} (UTC)",
        "## By strategy",
        "## By symbol",
        "## Open positions at the end",
        "## Trades",
        "## Balances",
        "## Equity",
    ]
    assert headings.index("## Operations") > headings.index("## Equity")
    assert text.index("**Win rate:** 50.00 % (2 won, 2 lost of 4 closing fills)") < text.index(
        "## By strategy"
    )
    assert "**Profit factor:** 1.50" in text
    assert "**Max drawdown:** -5.50 USDT (-0.05 %)" in text
    # every trade: time, strategy, symbol, side, quantity, price, fee, PnL; money to 2 places
    assert "| 11:00:00 | grid1 | BTCUSDT | SELL | 0.005 | 60200 | 0.10 USDT | -4.00 |" in text
    assert "| time | strategy | symbol | side | quantity | price | fee | realized PnL |\n" in text
    assert "|---|---|---|---|---:|---:|---:|---:|" in text
    assert "| BTCUSDT | LONG | 0.005 | 60000 | 62000 | +10.00 |" in text
    for wrong in ("1 mismatches", "1 repairs", "1 starts", "1 samples"):
        assert wrong not in text
    assert "- **Streams:** 1 disconnect, 1 stale" in text


async def test_html_colours_gains_and_losses_and_right_aligns_headers(journal_file: Path) -> None:
    page = render_html(await report_of(journal_file))
    assert '<td class="n neg">-4.00</td>' in page
    assert '<td class="n pos">+10.00</td>' in page
    assert '<th class="n">realized PnL</th>' in page
    assert page.index("<h2>Trades</h2>") < page.index("<h2>Operations</h2>")


async def test_the_equity_chart_spans_the_time_the_bot_ran(journal_file: Path) -> None:
    r = await report_of(journal_file)
    # run a was up from the day's start, run b stopped cleanly at 23:00
    assert time_span(r) == (START, START + 23 * HOUR)
    svg = equity_svg(r, "USDT")
    assert ">21:00</text>" in svg
    assert svg.count(">00:00</text>") == 1  # no tick for the next midnight: the bot was down


async def test_a_period_report_covers_every_day_of_it(journal_file: Path) -> None:
    r = await report_of(journal_file, last=date(2024, 5, 2))
    assert r.day == "2024-05-01_2024-05-02"
    assert (r.start, r.end) == (START, START + 2 * DAY_MS)
    assert r.totals.trades == 8
    text = render_markdown(r)
    assert text.startswith("# Report 2024-05-01 to 2024-05-02 (UTC)")
    assert "| 05-02 01:00:00 | trend1 | ETHUSDT | BUY | 0.5 | 2990.55 | 0.10 USDT |  |" in text
    files = write_report(r, journal_file.parent / "out")
    assert next(Path(f).name for f in files) == "2024-05-01_2024-05-02.md"


@pytest.mark.parametrize(
    ("client_order_id", "strategy"),
    [
        ("tl-grid1-mi9k2x1c-1f", "grid1"),  # <prefix>-<owner>-<run>-<n>, base 36
        ("tl-bot-mi9k2x1c-a", "bot"),
        ("tl-meanrev_1-42", "meanrev_1"),  # ids of earlier versions: <prefix>-<owner>-<n>
        ("", "-"),  # a trade recovered from userTrades
        ("web_3fa85f64", "-"),  # placed by hand
        ("tl-grid1-MI9K-1", "-"),
    ],
)
def test_the_strategy_of_a_fill_comes_from_its_client_order_id(
    client_order_id: str, strategy: str
) -> None:
    assert strategy_of(client_order_id) == strategy
