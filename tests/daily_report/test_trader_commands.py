"""``tradeloop trades``, ``profit``, ``balance`` and ``positions`` read a journal on disk
(written through the real store) and print tables or JSON."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from plugins.journal import SQLiteStore
from plugins.journal.migrations import MIGRATIONS
from plugins.journal.sqlite_store import read_only_uri
from tests.daily_report.trader_data import write_trader_journal
from tests.support import run_cli


@pytest.fixture
async def folder(tmp_path: Path) -> Path:
    await write_trader_journal(tmp_path / "data" / "journal-sim.sqlite3")
    (tmp_path / "settings.yaml").write_text(
        "default:\n  runtime: {data_dir: data}\n", encoding="utf-8"
    )
    return tmp_path


def cli(folder: Path, *args: str) -> str:
    done = run_cli("--settings", str(folder / "settings.yaml"), *args, cwd=folder)
    assert done.returncode == 0, done.stderr
    return done.stdout


def as_json(folder: Path, *args: str) -> Any:
    return json.loads(cli(folder, *args, "--json"))


def test_trades_lists_the_newest_with_filters_and_exports_csv(folder: Path) -> None:
    every = as_json(folder, "trades", "--limit", "0")
    assert len(every) == 8
    newest = as_json(folder, "trades", "--limit", "2")
    assert newest == every[-2:]
    assert newest[-1] == {
        "time": "2024-05-02 01:00:00",
        "strategy": "trend1",
        "symbol": "ETHUSDT",
        "side": "BUY",
        "quantity": "0.5",
        "price": "2990.55",
        "fee": "0.10",
        "fee_asset": "USDT",
        "realized_pnl": "0",
        "order_id": 106,
        "trade_id": 106,
    }
    grid = as_json(folder, "trades", "--strategy", "grid1")
    assert [t["realized_pnl"] for t in grid] == ["0", "10", "-4"]
    day = as_json(folder, "trades", "--from", "2024-05-02", "--symbol", "ethusdt")
    assert [t["trade_id"] for t in day] == [106]
    table = cli(folder, "trades", "--limit", "3", "--csv", "all.csv")
    assert "2024-05-01 13:00:00   trend1     ETHUSDT   SELL" in table
    assert "-6.00" in table
    assert "the newest 3 of 8 trades" in table
    assert "\x1b[" not in table  # no colour codes when piped
    with (folder / "all.csv").open(encoding="utf-8", newline="") as f:
        assert len(list(csv.DictReader(f))) == 8


def test_profit_sums_a_period_and_its_strategies(folder: Path) -> None:
    p = as_json(folder, "profit", "--from", "2024-05-01", "--to", "2024-05-01")
    assert (p["trades"], p["realized_pnl"], p["wins"], p["losses"]) == (7, "5", 2, 2)
    assert (p["win_rate"], p["profit_factor"]) == (0.5, "1.50")
    assert p["max_drawdown"] == "5.5"
    assert (p["equity_start"], p["equity_end"]) == ("10000", "10020.4")
    assert [s["strategy"] for s in p["strategies"]] == ["-", "grid1", "trend1"]
    text = cli(folder, "profit", "--strategy", "trend1")
    assert "Profit since the journal began (UTC)" in text
    assert "Realized PnL            -6.00 USDT" in text
    assert "Win rate                0.00 % (0 won, 1 lost)" in text


def test_balance_and_positions_as_last_recorded(folder: Path) -> None:
    b = as_json(folder, "balance")
    assert b["balances"] == [
        {
            "asset": "USDT",
            "wallet_balance": "10004.514",
            "available_balance": None,
            "at": "2024-05-01 08:00:00",
        }
    ]
    assert b["equity"]["equity"] == "10020.4"
    assert "USDT         10,004.51" in cli(folder, "balance")
    (pos,) = as_json(folder, "positions")
    assert pos == {
        "symbol": "BTCUSDT",
        "side": "LONG",
        "amount": "0.005",
        "entry_price": "60000",
        "mark": "62000",
        "unrealized_pnl": "10.00000000",
    }
    text = cli(folder, "positions")
    assert "BTCUSDT   LONG" in text
    assert "+10.00" in text


def test_bad_values_exit_2_and_a_missing_journal_1(folder: Path) -> None:
    settings = ("--settings", str(folder / "settings.yaml"))
    for args in (("trades", "--limit", "-1"), ("profit", "--from", "2024-13-01")):
        done = run_cli(*settings, *args, cwd=folder)
        assert done.returncode == 2, args
        assert f"tradeloop {args[0]}: error:" in done.stderr
    (folder / "data" / "journal-sim.sqlite3").unlink()
    for command in ("trades", "profit", "balance", "positions"):
        done = run_cli(*settings, command, cwd=folder)
        assert done.returncode == 1
        assert "no journal at" in done.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def schema_version(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(read_only_uri(path), uri=True)) as db:
        version: int = db.execute("PRAGMA user_version").fetchone()[0]
    return version


def test_the_readers_open_the_journal_read_only(folder: Path) -> None:
    """Every journal-reading command opens the file ``mode=ro``: the journal is read as it is,
    never written; one at an older schema is refused, not upgraded behind the bot's back."""
    path = folder / "data" / "journal-sim.sqlite3"
    before = digest(path)
    settings = ("--settings", str(folder / "settings.yaml"))
    for args in (("trades",), ("profit",), ("balance",), ("positions",)):
        assert run_cli(*settings, *args, cwd=folder).returncode == 0, args
    report = run_cli(*settings, "report", "--date", "2024-05-01", cwd=folder)
    assert report.returncode == 0, report.stderr
    assert digest(path) == before

    asyncio.run(write_old_journal(path.with_name("old.sqlite3")))
    old = path.with_name("old.sqlite3")
    before = digest(old)
    (folder / "old.yaml").write_text(
        f"default:\n  runtime: {{data_dir: data}}\n  plugins: {{journal: {{path: {old}}}}}\n",
        encoding="utf-8",
    )
    for args in (("trades",), ("balance",), ("report", "--date", "2024-05-01")):
        done = run_cli("--settings", str(folder / "old.yaml"), *args, cwd=folder)
        assert done.returncode == 2, (args, done.stderr)
        assert "schema version 3, older than this tradeloop's" in done.stderr
        assert "Traceback" not in done.stderr
    assert schema_version(old) == 3
    assert digest(old) == before


async def write_old_journal(path: Path) -> None:
    """A journal as an older tradeloop left it (the first three schema versions)."""
    store = SQLiteStore(path, migrations=MIGRATIONS[:3])
    await store.open()
    await store.close()
