"""The tradeloop command line, run as a real process."""

from __future__ import annotations

import importlib.metadata
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import TRADELOOP, clean_env, run_cli

# The core's CLI tests run without the exchange connector (tested in tests/binance).
NO_CONNECTOR = {"TRADELOOP_PLUGINS__BINANCE__ENABLED": "false"}


def test_check_prints_effective_settings_with_secrets_masked(tmp_path: Path) -> None:
    env = {**NO_CONNECTOR, "TRADELOOP_EXCHANGE__API_SECRET": "sup3r-s3cret-value"}
    result = run_cli("check", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("settings OK")
    assert "api_secret: '***'" in result.stdout
    assert "sup3r-s3cret-value" not in result.stdout + result.stderr


def test_bad_setting_exits_2_with_one_line_naming_the_key(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path, env={"TRADELOOP_HOOKS__MAX_FAILURES": "0"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "tradeloop: error: settings: hooks.max_failures = 0 is not allowed: expected `int` >= 1"
    ]


def test_settings_file_option_and_environments(tmp_path: Path) -> None:
    (tmp_path / "custom.yaml").write_text(
        "default:\n  runtime: {shutdown_timeout: 3}\nstaging:\n  runtime: {shutdown_timeout: 4}\n",
        encoding="utf-8",
    )
    result = run_cli(
        "--settings", "custom.yaml", "--env", "staging", "check", cwd=tmp_path, env=NO_CONNECTOR
    )
    assert result.returncode == 0, result.stderr
    assert "shutdown_timeout: 4.0" in result.stdout
    assert "settings OK (env: staging)" in result.stdout


def test_plugins_json_lists_builtins_and_third_party(tmp_path: Path, plugin_site: Path) -> None:
    result = run_cli("plugins", "--json", cwd=tmp_path, site=plugin_site, env=NO_CONNECTOR)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["hello"]["source"] == "tradeloop-hello 0.1.0"
    assert rows["hello"]["enabled"] is False
    assert rows["hello"]["hooks"] == []
    for row in rows.values():
        opt_in = ("binance", "webhook", "http", "telegram", "recorder")
        if row["source"] == "built-in" and row["name"] not in opt_in:
            assert row["enabled"] is True
    assert rows["webhook"]["enabled"] is False  # an opt-in built-in: it needs a URL
    assert rows["recorder"]["enabled"] is False  # the flight recorder: off by default
    assert rows["replay"]["enabled"] is True  # its `tradeloop replay` command: always there
    assert rows["webhook"]["source"] == "built-in"


def test_plugins_table(tmp_path: Path, plugin_site: Path) -> None:
    env = {**NO_CONNECTOR, "TRADELOOP_PLUGINS__HELLO__ENABLED": "true"}
    result = run_cli("plugins", cwd=tmp_path, site=plugin_site, env=env)
    assert result.returncode == 0, result.stderr
    hello = next(line for line in result.stdout.splitlines() if line.startswith("hello "))
    assert "tradeloop-hello 0.1.0" in hello
    assert "yes" in hello
    assert "on_tick" in hello


def test_broken_plugin_exits_2_with_one_line(tmp_path: Path, plugin_site: Path) -> None:
    env = {**NO_CONNECTOR, "TRADELOOP_PLUGINS__BROKEN_IMPORT__ENABLED": "true"}
    result = run_cli("run", "--for", "1", cwd=tmp_path, site=plugin_site, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "tradeloop: error: plugin 'broken_import' (tradeloop-testplugins 0.0.1, "
        "tradeloop_testplugins.broken_import:Plugin) failed to load: "
        "ModuleNotFoundError: No module named 'not_an_installed_module'"
    ]


def test_plugin_failing_to_start_exits_1(tmp_path: Path, plugin_site: Path) -> None:
    env = {**NO_CONNECTOR, "TRADELOOP_PLUGINS__FAILING_START__ENABLED": "true"}
    result = run_cli("run", "--for", "1", cwd=tmp_path, site=plugin_site, env=env)
    assert result.returncode == 1
    assert "plugin 'failing_start' failed to start (lifespan)" in result.stderr


def test_run_for_writes_summary(tmp_path: Path, plugin_site: Path) -> None:
    env = {
        **NO_CONNECTOR,
        "TRADELOOP_PLUGINS__HELLO__ENABLED": "true",
        "TRADELOOP_PLUGINS__HELLO__EVERY": "0.2",
    }
    result = run_cli(
        "run",
        "--for",
        "1",
        "--summary",
        "out/summary.json",
        cwd=tmp_path,
        site=plugin_site,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["exit_reason"] == "--for 1 s elapsed"
    assert summary["hello"]["greetings"] >= 1
    assert summary["jobs"]["hello.greet"]["runs"] == summary["hello"]["greetings"]
    assert "hello" in summary["plugins"]
    assert summary["duration_s"] >= 1
    assert summary["plugin_errors"] == {}
    assert summary["hooks"]["summarize_run"] == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_shuts_down_gracefully(
    tmp_path: Path, plugin_site: Path, sig: signal.Signals
) -> None:
    env = clean_env(
        {
            **NO_CONNECTOR,
            "PYTHONPATH": str(plugin_site),
            "TRADELOOP_PLUGINS__HELLO__ENABLED": "true",
        }
    )
    proc = subprocess.Popen(
        [str(TRADELOOP), "run", "--summary", "summary.json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        seen = ""
        while "tradeloop started" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        assert "tradeloop started" in seen, seen
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
        rest = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert "hello plugin stopping" in rest
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["exit_reason"] == f"signal {sig.name}"


def test_run_refuses_nonpositive_duration(tmp_path: Path) -> None:
    result = run_cli("run", "--for", "0", cwd=tmp_path, env=NO_CONNECTOR)
    assert result.returncode == 2
    assert "positive number of seconds" in result.stderr


@pytest.mark.parametrize("command", ["--help", "check", "plugins"])
def test_help_check_and_plugins_import_no_heavy_plugin_parts(tmp_path: Path, command: str) -> None:
    """Every built-in plugin is loaded (with its settings schema, its commands) but its
    network, terminal and database parts are imported only when it starts."""
    probe = (
        "import sys\n"
        "from framework.cli import main\n"
        "try:\n"
        f"    code = main([{command!r}])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "heavy = ('aiohttp', 'rich', 'aiosqlite', 'websockets', 'plugins.sim.exchange')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules), code, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [str(TRADELOOP.with_name("python")), "-c", probe],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stderr.strip().splitlines()[-1] == "HEAVY [] 0", result.stderr
    if command == "--help":
        assert "sim" in result.stdout  # plugin commands are still listed
        assert "report" in result.stdout


def test_check_prints_the_risk_limits_in_force(tmp_path: Path) -> None:
    # max_order_notional and max_open_orders come from MACrossover.risk, not from the file
    (tmp_path / "settings.yaml").write_text(
        "default:\n  strategies:\n  - id: ma\n    use: ma_crossover\n"
        "    params: {symbol: BTCUSDT}\n    risk: {max_position: '0.004'}\n",
        encoding="utf-8",
    )
    result = run_cli("check", cwd=tmp_path, env=NO_CONNECTOR)
    assert result.returncode == 0, result.stderr
    risk = result.stdout.split("  risk:\n", 1)[1].splitlines()[:3]
    assert risk == [
        "    max_position: '0.004'",
        "    max_order_notional: '2000'",
        "    max_open_orders: 2",
    ]


def test_version_needs_no_settings(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("default: {exchange: {name: foo}}\n", encoding="utf-8")
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"tradeloop {importlib.metadata.version('tradeloop')}\n"
