"""The suite and the plugin-author fixtures keep out of the working directory's ``data/``."""

from __future__ import annotations

import os
from pathlib import Path

from framework.testing import BotFactory
from plugins.journal import Journal
from tests.conftest import folder_state

NO_EXCHANGE = {"plugins": {"binance": {"enabled": False}, "smart_logging": {"enabled": False}}}


async def test_bot_factory_keeps_a_bots_files_out_of_the_working_directory(
    bot_factory: BotFactory,
) -> None:
    journal = Journal()  # its default file: <runtime.data_dir>/journal-sim.sqlite3
    bot = await bot_factory(NO_EXCHANGE, plugins={"journal": journal})
    await journal.flush()
    data_dir = Path(bot.settings.runtime.data_dir)
    assert data_dir.is_absolute()
    assert (data_dir / "journal-sim.sqlite3").is_file()
    assert not (Path.cwd() / "data").exists()
    other = await bot_factory(NO_EXCHANGE, start=False)
    assert other.settings.runtime.data_dir != bot.settings.runtime.data_dir


async def test_bot_factory_keeps_a_data_dir_the_test_chose(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await bot_factory({**NO_EXCHANGE, "runtime": {"data_dir": str(tmp_path)}}, start=False)
    assert bot.settings.runtime.data_dir == str(tmp_path)


def test_every_test_runs_in_an_empty_folder_of_its_own(tmp_path_factory: object) -> None:
    cwd = Path.cwd()
    assert cwd != Path(__file__).resolve().parents[2]
    assert os.listdir(cwd) == []


def test_the_session_guard_sees_a_file_added_changed_or_removed(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    journal = tmp_path / "data" / "journal-sim.sqlite3"
    journal.write_bytes(b"a")
    before = folder_state(tmp_path)
    assert folder_state(tmp_path) == before
    journal.write_bytes(b"ab")
    assert folder_state(tmp_path) != before
    changed = folder_state(tmp_path)
    (tmp_path / "reports").mkdir()
    assert folder_state(tmp_path) != changed
    journal.unlink()
    assert "data/journal-sim.sqlite3" not in folder_state(tmp_path)
