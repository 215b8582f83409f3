"""A damaged journal is refused with a one-line error naming the file, never used silently."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from plugins.journal import JournalError, JournalSettings, SQLiteStore
from tests.daily_report.journal_data import write_journal
from tests.journal.test_store import fill
from tests.reporting_support import DAY_NAME
from tests.support import run_cli

PAGE = 4096


async def _journal_with_rows(path: Path, fills: int = 3000) -> None:
    store = SQLiteStore(path)
    await store.open()
    try:
        await store.write([fill(i, 1_000 + i) for i in range(fills)])
    finally:
        await store.close()


def _scribble(path: Path, size: int = 8192, seed: int = 13) -> None:
    """``size`` random bytes over the middle of the file, from a page boundary."""
    data = bytearray(path.read_bytes())
    at = (len(data) // 2) // PAGE * PAGE
    data[at : at + size] = random.Random(seed).randbytes(size)
    path.write_bytes(bytes(data))


async def test_random_bytes_in_the_middle_are_found_at_open(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    await _journal_with_rows(path)
    _scribble(path)
    with pytest.raises(JournalError) as refused:
        await SQLiteStore(path).open()
    message = str(refused.value)
    assert f"journal {path} is damaged (" in message
    assert f"mv {path} {path}.damaged" in message
    assert "\n" not in message
    assert refused.value.exit_code == 2


async def test_a_file_that_is_not_a_database_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(random.Random(5).randbytes(3 * PAGE))
    with pytest.raises(JournalError, match=f"journal {path} is damaged .*not a database"):
        await SQLiteStore(path).open()


async def test_the_check_can_be_switched_off_for_a_huge_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    await _journal_with_rows(path, fills=10)
    store = SQLiteStore(path, check=False)
    await store.open()
    await store.close()
    assert JournalSettings().check_at_open is True


async def test_a_row_that_cannot_be_read_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    await _journal_with_rows(path, fills=10)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE fills SET price = 'not a price' WHERE trade_id = 3")
    db.close()
    store = SQLiteStore(path)
    await store.open()
    try:
        with pytest.raises(JournalError, match=f"journal {path} is damaged .*a row of fills"):
            await store.fills(0, 10**13)
    finally:
        await store.close()


async def test_report_and_run_refuse_a_damaged_journal_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "data" / "journal-sim.sqlite3"
    await write_journal(path)
    await _journal_with_rows(path)
    _scribble(path)
    env = {"TRADELOOP_RUNTIME__DATA_DIR": str(tmp_path / "data")}
    report = run_cli("report", "--date", DAY_NAME, cwd=tmp_path, env=env)
    assert report.returncode == 2, report.stderr
    assert "Traceback" not in report.stderr
    (line,) = report.stderr.splitlines()
    assert line.startswith(f"tradeloop: error: journal {path} is damaged (")
    run = run_cli("run", "--for", "5", cwd=tmp_path, env=env)
    assert run.returncode == 2, run.stderr
    last = run.stderr.splitlines()[-1]
    assert last.startswith("tradeloop: error: plugin 'journal' failed to start (lifespan): ")
    assert f"journal {path} is damaged" in last
