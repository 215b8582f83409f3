"""``tradeloop init`` and ``tradeloop new-strategy``: a bot folder that checks, runs and tests."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from framework.bot_scaffold import create_bot, run_init, strategy_names
from framework.scaffold import ScaffoldError
from tests.support import TRADELOOP, run_cli


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``tradeloop`` as a user runs it in a bot folder: no PYTHONPATH, no TRADELOOP_ variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADELOOP_", "PYTHONPATH"))}
    return subprocess.run(
        [str(TRADELOOP), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_new_bot_checks_and_runs_its_own_strategy_without_pythonpath(tmp_path: Path) -> None:
    assert run_cli("init", "bot", "--defaults", cwd=tmp_path).returncode == 0
    bot = tmp_path / "bot"
    check = _cli("check", cwd=bot)
    assert check.returncode == 0, check.stderr
    assert "use: starter:Starter" in check.stdout
    run = _cli("run", "--for", "3", "--summary", "run.json", cwd=bot)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((bot / "run.json").read_text(encoding="utf-8"))
    assert summary["strategies"]["starter"]["state"] == "running"
    assert summary["plugin_errors"] == {}
    # From elsewhere, with --settings: the bot's folder, not the working directory, is searched.
    elsewhere = _cli("--settings", str(bot / "settings.yaml"), "check", cwd=tmp_path)
    assert elsewhere.returncode == 0, elsewhere.stderr


def test_init_with_defaults_makes_a_bot_that_checks_and_passes_its_tests(tmp_path: Path) -> None:
    result = run_cli("init", "bot", "--defaults", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    bot = tmp_path / "bot"
    names = sorted(str(p.relative_to(bot)) for p in bot.rglob("*") if p.is_file())
    assert names == [
        ".gitignore",
        ".secrets.yaml",
        "pytest.ini",
        "settings.yaml",
        "strategies/starter.py",
        "strategies/test_starter.py",
    ]
    assert ".secrets.yaml" in (bot / ".gitignore").read_text(encoding="utf-8").split()
    assert "PYTHONPATH" not in result.stdout
    check = _cli("check", cwd=bot)
    assert check.returncode == 0, check.stderr
    assert "use: starter:Starter" in check.stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADELOOP_", "PYTHONPATH"))}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=bot,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout


def test_init_overwrites_nothing(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("mine\n", encoding="utf-8")
    result = run_cli("init", "--defaults", cwd=tmp_path)
    assert result.returncode == 2
    assert "settings.yaml already exists" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.yaml"]
    assert (tmp_path / "settings.yaml").read_text(encoding="utf-8") == "mine\n"


def test_init_asks_for_the_strategy_and_symbol_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter(["dip_buyer", "ethusdt"])
    args = argparse.Namespace(dir=tmp_path, defaults=False)
    assert run_init(args, ask=lambda _: next(answers)) == 0
    settings = (tmp_path / "settings.yaml").read_text(encoding="utf-8")
    assert 'use: "dip_buyer:DipBuyer"' in settings
    assert "symbol: ETHUSDT" in settings
    assert (tmp_path / "strategies" / "test_dip_buyer.py").is_file()


def test_new_strategy_writes_a_strategy_that_loads(tmp_path: Path) -> None:
    create_bot(tmp_path)
    result = run_cli("new-strategy", "mean-revert", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "strategies" / "mean_revert.py").is_file()
    assert (tmp_path / "strategies" / "test_mean_revert.py").is_file()
    assert 'use: "mean_revert:MeanRevert"' in result.stdout
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace("starter:Starter", "mean_revert:MeanRevert"),
        encoding="utf-8",
    )
    check = _cli("check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    again = run_cli("new-strategy", "mean_revert", cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr


@pytest.mark.parametrize("name", ["Bad Name", "class", "json", "strategies", "x" * 21])
def test_a_bad_strategy_name_is_refused(name: str) -> None:
    with pytest.raises(ScaffoldError):
        strategy_names(name)
