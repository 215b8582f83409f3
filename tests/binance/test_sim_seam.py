"""The connector and the simulator meet only through the core's seam (``ctx.exchange_endpoint``).

No module of the connector imports the simulator; the simulator's fixtures use the connector's
public names only; the simulator's settings live in ``plugins.sim`` and the old ``sim:`` section
is refused naming the new key; ``plugins.sim.enabled: false`` needs ``exchange.rest_url``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import plugins.binance
from framework.testing import BotFactory
from framework.types import OrderRequest
from plugins.binance import BinancePlugin
from plugins.sim import SimExchange
from plugins.sim.testing import FAST_BINANCE, until
from tests.support import ROOT, run_cli

QUIET = {name: {"enabled": False} for name in ("smart_logging", "status", "journal")} | {
    "daily_report": {"enabled": False},
    "reconciliation": {"enabled": False},
}


def imported_modules(path: Path, package: str) -> Iterator[tuple[str, list[str], int]]:
    """Every import in ``path`` (function-local ones too): (absolute module, names, line)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the module's own package
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [alias.name for alias in node.names]
            yield base, names, node.lineno
            for name in names:  # ``from plugins import sim`` imports plugins.sim
                yield f"{base}.{name}", [], node.lineno


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])


def test_no_module_of_the_connector_imports_the_simulator() -> None:
    found = []
    for path in sorted((ROOT / "plugins" / "binance").rglob("*.py")):
        for module, _, line in imported_modules(path, package_of(path)):
            if module == "plugins.sim" or module.startswith("plugins.sim."):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert found == []


def test_the_import_check_sees_function_local_and_relative_imports(tmp_path: Path) -> None:
    source = "def f():\n    from ..sim import SimExchange\n    import plugins.sim.config\n"
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    modules = [m for m, _, _ in imported_modules(path, "plugins.binance")]
    assert "plugins.sim" in modules
    assert "plugins.sim.config" in modules


def test_the_simulator_uses_only_public_names_of_the_connector() -> None:
    public = set(plugins.binance.__all__)
    found = []
    for path in sorted((ROOT / "plugins" / "sim").rglob("*.py")):
        for module, names, line in imported_modules(path, package_of(path)):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module.startswith("plugins.binance."):
                if module.removeprefix("plugins.binance.") not in public:
                    found.append(f"{where} imports {module}")
            elif module == "plugins.binance":
                found += [f"{where} imports {n}" for n in names if n not in public]
    assert found == []


# ------------------------------------------------------------------- settings that moved


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_the_old_sim_section_is_refused_naming_the_new_key(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text(
        "default:\n  sim:\n    seed: 3\n    updates_per_second: 0\n", encoding="utf-8"
    )
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2
    seed, updates = result.stderr.strip().splitlines()  # every moved key, one line each
    assert "sim.seed" in seed
    assert "set plugins.sim.seed instead" in seed
    assert "TRADELOOP_PLUGINS__SIM__SEED" in seed
    assert "set plugins.sim.updates_per_second instead" in updates


def test_the_old_sim_environment_variable_is_refused_naming_the_new_one(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path, env={"TRADELOOP_SIM__FAULTS__DROP_USER_EVENTS": "0.1"})
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "plugins.sim.faults.drop_user_events" in line
    assert "TRADELOOP_PLUGINS__SIM__FAULTS__DROP_USER_EVENTS" in line


def test_an_old_settings_file_with_the_demo_key_is_refused_as_moved(tmp_path: Path) -> None:
    """The old default file listed the demo key under ``sim:``: say where it went, not
    "secrets do not belong here", and never echo it."""
    demo = "tradeloop-sim-demo-key-0000000000000000000000000000000000000000000000"
    (tmp_path / "settings.yaml").write_text(
        f"default:\n  sim:\n    api_key: {demo}\n", encoding="utf-8"
    )
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "set plugins.sim.api_key instead" in line
    assert demo not in line


def test_the_new_sim_block_is_validated_as_the_plugins_own(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path, env={"TRADELOOP_PLUGINS__SIM__SYMBOLS": '["DOGEUSDT"]'})
    assert result.returncode == 2
    assert "plugins.sim.symbols" in one_error_line(result.stderr)
    ok = run_cli("check", cwd=tmp_path, env={"TRADELOOP_PLUGINS__SIM__SEED": "9"})
    assert ok.returncode == 0, ok.stderr
    assert "seed: 9" in ok.stdout


def test_the_connector_validates_the_exchange_name(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path, env={"TRADELOOP_EXCHANGE__NAME": "kraken"})
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "exchange.name = 'kraken'" in line
    assert "binance_futures" in line


def test_simulator_disabled_without_a_url_names_what_to_set(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path, env={"TRADELOOP_PLUGINS__SIM__ENABLED": "false"})
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "exchange.rest_url" in line
    assert "plugins.sim.enabled" in line


# -------------------------------------------------------------- which exchange is used


async def buy_and_see_it_traded(
    bot_factory: BotFactory, sim: SimExchange, settings: dict[str, Any]
) -> None:
    bot = await bot_factory(settings, entry_points=True)
    binance = bot.ctx.plugin("binance")
    assert isinstance(binance, BinancePlugin)
    assert binance.connector is not None
    await binance.connector.wait_connected()
    await bot.ctx.exchange.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.010"))
    )
    await until(lambda: len(sim.engine.trades) == 1 and bot.account.stats.fills == 1)


async def test_simulator_disabled_with_a_url_trades_on_that_exchange(
    bot_factory: BotFactory, sim_exchange: SimExchange, tmp_path: Path
) -> None:
    settings = {
        "exchange": {
            "rest_url": sim_exchange.rest_url,
            "api_key": sim_exchange.settings.api_key,
            "api_secret": sim_exchange.settings.api_secret,
            "symbols": ["BTCUSDT"],
        },
        "plugins": {**QUIET, "sim": {"enabled": False}, "binance": FAST_BINANCE},
        "runtime": {"data_dir": str(tmp_path)},
    }
    await buy_and_see_it_traded(bot_factory, sim_exchange, settings)


async def test_a_standalone_simulator_gets_the_demo_keys_from_the_sim_plugin(
    bot_factory: BotFactory, sim_exchange: SimExchange, tmp_path: Path
) -> None:
    """``exchange.rest_url`` and no keys: the ``sim`` plugin publishes that URL with its demo
    keys and real time, and starts no exchange of its own."""
    settings = {
        "exchange": {"rest_url": sim_exchange.rest_url + "/", "symbols": ["BTCUSDT"]},
        "plugins": {**QUIET, "binance": FAST_BINANCE},
        "runtime": {"data_dir": str(tmp_path)},
    }
    await buy_and_see_it_traded(bot_factory, sim_exchange, settings)


@pytest.mark.parametrize("enabled", [True, False])
async def test_no_simulator_runs_for_binance_futures(
    bot_factory: BotFactory, tmp_path: Path, enabled: bool
) -> None:
    settings = {
        "exchange": {"name": "binance_futures", "api_key": "k", "api_secret": "s"},
        "plugins": {**QUIET, "binance": {"enabled": False}, "sim": {"enabled": enabled}},
        "runtime": {"data_dir": str(tmp_path)},
    }
    bot = await bot_factory(settings, entry_points=True)
    assert bot.ctx.exchange_endpoint is None
    assert getattr(bot.ctx.plugin("sim"), "exchange", None) is None
