"""One journal per venue: simulated, testnet and live runs never share a file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from framework.settings import Settings, load_settings
from plugins.journal import JournalSettings, journal_path
from plugins.journal.store import JournalError
from tests.support import run_cli


def _settings(data: Path, **exchange: object) -> Settings:
    return load_settings(
        overrides={"runtime": {"data_dir": str(data)}, "exchange": exchange}, use_files=False
    )


def test_each_venue_has_its_own_default_file(tmp_path: Path) -> None:
    config = JournalSettings()
    names = {
        journal_path(config, _settings(tmp_path, name="sim")).name,
        journal_path(config, _settings(tmp_path, name="binance_futures", testnet=True)).name,
        journal_path(config, _settings(tmp_path, name="binance_futures", testnet=False)).name,
    }
    assert names == {"journal-sim.sqlite3", "journal-testnet.sqlite3", "journal-live.sqlite3"}
    chosen = JournalSettings(path=str(tmp_path / "mine.sqlite3"))
    assert journal_path(chosen, _settings(tmp_path, name="sim")) == tmp_path / "mine.sqlite3"


def test_a_journal_at_the_old_default_path_is_refused_with_how_to_move_it(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    sqlite3.connect(data / "journal.sqlite3").close()
    with pytest.raises(JournalError, match="old default path") as caught:
        journal_path(JournalSettings(), _settings(data, name="sim"))
    assert f"mv {data / 'journal.sqlite3'} {data / 'journal-sim.sqlite3'}" in str(caught.value)
    assert caught.value.exit_code == 2
    (data / "journal.sqlite3").rename(data / "journal-sim.sqlite3")
    assert journal_path(JournalSettings(), _settings(data, name="sim")).name == (
        "journal-sim.sqlite3"
    )


def test_run_refuses_the_old_journal_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    sqlite3.connect(tmp_path / "data" / "journal.sqlite3").close()
    result = run_cli("run", "--for", "1", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "journals are now kept apart per venue" in result.stderr
    assert not (tmp_path / "data" / "journal-sim.sqlite3").exists()
