"""The guarded live switch: ``--live`` for a live venue, the venue in the banner, ``--env``
checked against the environments the settings define. Real processes."""

from __future__ import annotations

from pathlib import Path

from tests.support import run_cli

SETTINGS = """\
default:
  plugins:
    status: {enabled: false}
    daily_report: {catch_up: false}
staging:
  exchange: {name: binance_futures, testnet: true}
production:
  exchange: {name: binance_futures, testnet: false}
"""
KEYS = {"TRADELOOP_EXCHANGE__API_KEY": "k" * 64, "TRADELOOP_EXCHANGE__API_SECRET": "s" * 64}


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "settings.yaml").write_text(SETTINGS, encoding="utf-8")
    return tmp_path


def test_a_live_venue_without_live_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    result = run_cli("--env", "production", "run", "--for", "1", cwd=folder, env=KEYS)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("tradeloop: error: the settings trade on a LIVE venue")
    assert "Add --live to `tradeloop run`" in line
    assert not (folder / "data").exists()  # no journal, no simulator account
    assert "s" * 64 not in result.stderr


def test_the_banner_says_simulated(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    env = {"TRADELOOP_PLUGINS__BINANCE__ENABLED": "false"}
    result = run_cli("run", "--for", "0.5", cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == ("tradeloop: SIMULATED: exchange sim, env development")


def test_env_names_only_a_defined_environment(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    result = run_cli("--env", "prodution", "check", cwd=folder)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "tradeloop: error: settings: --env = 'prodution' is not allowed: an environment the "
        "settings define: default, development, production, staging"
    ]
    from_variable = run_cli("check", cwd=folder, env={"TRADELOOP_ENV": "stagin"})
    assert from_variable.returncode == 2
    assert "settings: TRADELOOP_ENV = 'stagin' is not allowed" in from_variable.stderr
    assert run_cli("--env", "staging", "check", cwd=folder, env=KEYS).returncode == 0
    assert run_cli("check", cwd=folder).returncode == 0  # the default selection: development


def test_a_top_level_settings_section_exits_2_naming_it(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("plugins:\n  recorder: {enabled: true}\n")
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "tradeloop: error: settings: plugins = 'a section at the top level of settings.yaml' is "
        "not allowed: settings go under an environment: `default:` (every environment) or one "
        "such as `production:` (docs/settings.md)"
    ]


def test_live_confirms_and_the_banner_says_live(tmp_path: Path) -> None:
    """``--live`` passes the guard (the connector is off here: nothing reaches Binance)."""
    folder = _folder(tmp_path)
    env = {**KEYS, "TRADELOOP_PLUGINS__BINANCE__ENABLED": "false"}
    result = run_cli("--env", "production", "run", "--live", "--for", "0.5", cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        "tradeloop: LIVE - REAL MONEY: exchange binance_futures, env production"
    )
    assert (folder / "data" / "journal-live.sqlite3").is_file()
