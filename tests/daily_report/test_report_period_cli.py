"""``tradeloop report --from/--to`` and ``--csv`` on a journal written through the real store."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.daily_report.trader_data import write_trader_journal
from tests.support import run_cli


@pytest.fixture
async def journal_file(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "journal-sim.sqlite3"
    await write_trader_journal(path)
    return path


def _settings(tmp_path: Path) -> Path:
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "default:\n  runtime: {data_dir: data}\n  plugins:\n    daily_report: {dir: out}\n",
        encoding="utf-8",
    )
    return settings


def test_report_command_over_a_period_with_a_csv_of_its_trades(
    journal_file: Path, tmp_path: Path
) -> None:
    cli = ("--settings", str(_settings(tmp_path)), "report")
    done = run_cli(
        *cli, "--from", "2024-05-01", "--to", "2024-05-02", "--csv", "t.csv", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "t.csv"
    assert (tmp_path / "out" / "2024-05-01_2024-05-02.html").is_file()
    with (tmp_path / "t.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    last = rows[-1]
    assert last["time_utc"] == "2024-05-02 01:00:00"
    assert (last["strategy"], last["price"], last["realized_pnl"]) == ("trend1", "2990.55", "0")
    assert rows[0]["realized_pnl"] == "0"  # plain digits, never 0E-8
    for bad in (
        ("--date", "2024-05-01", "--from", "2024-05-01"),
        ("--to", "2024-05-02"),
        ("--from", "2024-05-03", "--to", "2024-05-01"),
        ("--from", "May 1"),
    ):
        refused = run_cli(*cli, *bad, cwd=tmp_path)
        assert refused.returncode == 2, bad
        assert "tradeloop report: error:" in refused.stderr
