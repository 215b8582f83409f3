"""The report of a journal written through the real store: restart gaps, a crashed run,
stream outages, log deltas; the CLI command; catch-up at start; the HTML in a browser."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from framework import ManualClock
from framework.errors import PluginStartError, SettingsError
from framework.testing import BotFactory
from plugins.daily_report import (
    DailyReportPlugin,
    DailyReportSettings,
    DamagedReportError,
    build_report,
    read_report,
    write_report,
)
from plugins.journal import Journal, JournalSettings, SQLiteStore
from tests.daily_report.journal_data import HOUR, START, write_journal
from tests.reporting_support import DAY, DAY_NAME, DAY_START, until
from tests.support import run_cli

DAY_DATE = date.fromisoformat(DAY_NAME)


@pytest.fixture
async def journal_file(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "journal-sim.sqlite3"
    await write_journal(path)
    return path


async def report_of(path: Path):  # type: ignore[no-untyped-def]
    store = SQLiteStore(path)
    await store.open()
    try:
        return await build_report(store, DAY_DATE, now_ms=START + 2 * DAY * 1000)
    finally:
        await store.close()


async def test_figures_of_a_day_with_a_crash_and_a_restart(journal_file: Path) -> None:
    r = await report_of(journal_file)
    (btc,) = r.symbols
    assert (btc.trades, btc.buys, btc.sells, btc.realized_pnl) == (2, 1, 1, Decimal(5))
    assert btc.fees == {"USDT": Decimal("0.24") + Decimal("0.122")}
    assert r.totals.net_pnl == Decimal("5") - Decimal("0.362")
    (usdt,) = r.balances
    assert (usdt.start, usdt.end) == (Decimal("10000"), Decimal("10004.514"))
    assert r.unexplained_change == Decimal("10004.514") - Decimal("10000") - r.totals.net_pnl
    (pos,) = r.positions
    assert (pos.mark, pos.unrealized_pnl) == (Decimal("62000"), Decimal("10.00000000"))
    assert r.equity.points[0].equity == Decimal("10000")
    assert r.equity.high == Decimal("10020.4")
    # the crashed run counts until it was last seen, the second until its clean stop
    assert r.uptime.up_ms == 6 * HOUR + 16 * HOUR
    assert [u.clean_stop for u in r.uptime.runs] == [False, True]
    assert r.uptime.runs_started == 1  # the first run started the day before
    market, user = r.streams
    assert (market.stale, market.down_ms) == (1, 90_000)
    # the user stream was down from 05:00 until its run died at 06:00
    assert (user.disconnects, user.down_ms) == (1, HOUR)
    (err,) = r.plugin_errors
    assert (err.plugin, err.count, err.last_error) == ("alerts", 1, "ValueError: bad <input>")
    # log counters gained during the day: run a from its pre-day sample, run b from zero
    assert (r.log.emitted, r.log.suppressed, r.log.aggregated_lines) == (70, 17, 3)
    assert r.log.top_suppressed == {"k": 10, "j": 7}


def test_report_command_writes_the_three_files(journal_file: Path, tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "default:\n  runtime: {data_dir: data}\n  plugins:\n    daily_report: {dir: out}\n",
        encoding="utf-8",
    )
    # An absolute --settings: dynaconf resolves a relative one from the console script's
    # folder upwards, which finds the repository's settings.yaml (reported as a core issue).
    cli = ("--settings", str(settings), "report", "--date")
    done = run_cli(*cli, DAY_NAME, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    files = done.stdout.split()
    assert [Path(f).name for f in files] == [f"{DAY_NAME}.{x}" for x in ("md", "json", "html")]
    assert read_report(tmp_path / "out" / f"{DAY_NAME}.json").totals.trades == 2
    bad = run_cli(*cli, "yesterday", cwd=tmp_path)
    assert bad.returncode == 2
    assert "expected YYYY-MM-DD" in bad.stderr
    journal_file.unlink()
    missing = run_cli(*cli, DAY_NAME, cwd=tmp_path)
    assert missing.returncode == 1
    assert "no journal at" in missing.stderr


async def test_a_missing_report_is_caught_up_at_start(
    bot_factory: BotFactory, journal_file: Path, tmp_path: Path
) -> None:
    clock = ManualClock(DAY_START + DAY + 3 * 3600)  # the bot was down at midnight
    reporter = DailyReportPlugin(DailyReportSettings(dir=str(tmp_path / "reports")))
    journal = Journal(JournalSettings(path=str(journal_file)))
    await bot_factory(plugins={"journal": journal, "daily_report": reporter}, clock=clock)
    await until(lambda: bool(reporter.written))
    (written,) = reporter.written
    assert written.day == DAY_NAME
    assert written.summary["trades"] == 2


async def test_a_damaged_report_is_written_again_at_start(
    bot_factory: BotFactory, journal_file: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    damaged = reports / f"{DAY_NAME}.json"
    damaged.write_bytes(b'{"day": "' + DAY_NAME.encode() + b'", "tota')
    with pytest.raises(DamagedReportError, match=f"report {damaged} cannot be read"):
        read_report(damaged)
    clock = ManualClock(DAY_START + DAY + 3 * 3600)
    reporter = DailyReportPlugin(DailyReportSettings(dir=str(reports)))
    journal = Journal(JournalSettings(path=str(journal_file)))
    await bot_factory(plugins={"journal": journal, "daily_report": reporter}, clock=clock)
    await until(lambda: bool(reporter.written))
    assert read_report(damaged).totals.trades == 2


async def test_start_fails_without_a_journal(bot_factory: BotFactory) -> None:
    with pytest.raises(PluginStartError, match="journal"):
        await bot_factory(plugins={"daily_report": DailyReportPlugin()})


def test_a_bad_time_of_day_is_a_settings_error() -> None:
    with pytest.raises(SettingsError) as info:
        DailyReportPlugin(DailyReportSettings(at="25:00"))
    assert info.value.key == "plugins.daily_report.at"


@pytest.fixture
async def html_page(journal_file: Path, tmp_path: Path) -> Path:
    files = write_report(await report_of(journal_file), tmp_path / "reports")
    return Path(next(f for f in files if f.endswith(".html")))


def test_the_html_page_renders_in_a_headless_browser(html_page: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium); see docs/reporting.md")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", html_page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert f"Daily report {DAY_NAME} (UTC)" in dom
    assert "<polyline" in dom  # the equity chart survived parsing
    assert dom.count("<circle") == 6  # one dot per equity sample
    assert "ValueError: bad &lt;input&gt;" in dom  # escaped, not markup
    shot = tmp_path / "page.png"
    subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1000,1400", html_page.as_uri()],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
