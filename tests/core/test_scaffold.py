"""``tradeloop new-plugin``: the generated package installs, lists, lints and passes its tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from framework.scaffold import (
    LAYOUT,
    MAX_NAME_LENGTH,
    ScaffoldError,
    create_plugin_package,
    plugin_names,
    render,
)
from tests.support import ROOT, clean_env, pip_install, run_cli

RUFF = Path(sys.executable).with_name("ruff")


@pytest.mark.parametrize(
    ("name", "plugin", "dist", "module", "cls"),
    [
        ("alerts", "alerts", "tradeloop-alerts", "tradeloop_alerts", "AlertsPlugin"),
        ("price_alerts", "price_alerts", "tradeloop-price_alerts", "tradeloop_price_alerts", ""),
        ("price-alerts", "price_alerts", "tradeloop-price-alerts", "tradeloop_price_alerts", ""),
        ("risk2", "risk2", "tradeloop-risk2", "tradeloop_risk2", "Risk2Plugin"),
    ],
)
def test_names_derived_from_name(name: str, plugin: str, dist: str, module: str, cls: str) -> None:
    names = plugin_names(name)
    assert (names.plugin, names.dist, names.module) == (plugin, dist, module)
    assert names.plugin_class == (cls or "PriceAlertsPlugin")
    assert names.settings_class == names.plugin_class.removesuffix("Plugin") + "Settings"


@pytest.mark.parametrize(
    "name",
    ["", "Alerts", "2fast", "price alerts", "price__alerts", "alerts-", "a.b", "x" * 21, "über"],
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ScaffoldError, match="is not a plugin name"):
        plugin_names(name)


@pytest.mark.parametrize("name", ["tradeloop", "tradeloop-alerts", "tradeloop_alerts"])
def test_the_tradeloop_prefix_is_refused(name: str) -> None:
    with pytest.raises(ScaffoldError, match="'tradeloop-' is prepended"):
        plugin_names(name)


def test_keywords_and_builtin_names_are_refused() -> None:
    with pytest.raises(ScaffoldError, match="keyword"):
        plugin_names("class")
    with pytest.raises(ScaffoldError, match="built-in plugin"):
        plugin_names("binance", taken=frozenset({"binance"}))


def test_every_template_token_is_known() -> None:
    tokens = plugin_names("alerts").tokens()
    for template in LAYOUT:
        text = (ROOT / "framework" / "templates" / "plugin" / template).read_text("utf-8")
        assert "{{" not in render(text, tokens), template


def test_cli_refuses_a_bad_name_with_exit_2(tmp_path: Path) -> None:
    result = run_cli("new-plugin", "Bad Name", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("tradeloop: error: new-plugin: 'Bad Name' is not a plugin name")
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_builtin_name_with_exit_2(tmp_path: Path) -> None:
    result = run_cli("new-plugin", "binance", cwd=tmp_path)
    assert result.returncode == 2
    assert "'binance' is the name of a built-in plugin" in result.stderr


def test_cli_never_overwrites_a_folder(tmp_path: Path) -> None:
    (tmp_path / "tradeloop-alerts").mkdir()
    (tmp_path / "tradeloop-alerts" / "mine.txt").write_text("keep me", encoding="utf-8")
    result = run_cli("new-plugin", "alerts", cwd=tmp_path)
    assert result.returncode == 2
    assert "already exists; not overwriting it" in result.stderr
    assert [p.name for p in (tmp_path / "tradeloop-alerts").iterdir()] == ["mine.txt"]


def test_cli_needs_no_settings(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("default:\n  hooks: {max_failures: 0}\n", "utf-8")
    result = run_cli("new-plugin", "alerts", "--dir", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "tradeloop-alerts" / "tradeloop_alerts" / "plugin.py").is_file()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``tradeloop new-plugin price_alerts``, pip-installed into a target directory.

    The files as generated are checked here, before pip adds ``build/`` and ``*.egg-info``.
    """
    work = tmp_path_factory.mktemp("new-plugin")
    result = run_cli("new-plugin", "price_alerts", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "created tradeloop-price_alerts/" in result.stdout
    package = work / "tradeloop-price_alerts"
    files = sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file())
    assert files == [
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "tests/test_price_alerts.py",
        "tradeloop_price_alerts/__init__.py",
        "tradeloop_price_alerts/plugin.py",
        "tradeloop_price_alerts/py.typed",
    ]
    site = work / "site"
    pip_install(package, target=site, cwd=work)
    return package, site


def test_generated_package_declares_its_entry_point(generated: tuple[Path, Path]) -> None:
    package, site = generated
    pyproject = (package / "pyproject.toml").read_text("utf-8")
    assert '[project.entry-points."tradeloop.plugins"]' in pyproject
    assert 'price_alerts = "tradeloop_price_alerts:PriceAlertsPlugin"' in pyproject
    readme = (package / "README.md").read_text("utf-8")
    for step in ("pip install -e '.[test]'", "enabled: true", "pytest", "twine upload"):
        assert step in readme
    assert (site / "tradeloop_price_alerts" / "py.typed").is_file()


def test_generated_tests_pass_as_generated(generated: tuple[Path, Path], tmp_path: Path) -> None:
    package, site = generated
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(package / "tests")],
        cwd=tmp_path,  # not the package folder: the installed copy is what gets imported
        env=clean_env({"PYTHONPATH": str(site)}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "6 passed" in result.stdout


@pytest.mark.parametrize("name", ["price_alerts", "a" * MAX_NAME_LENGTH, "a-b-c"])
def test_generated_code_is_lint_clean(name: str, tmp_path: Path) -> None:
    package = create_plugin_package(name, tmp_path)
    for command in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        result = subprocess.run(
            [str(RUFF), *command], cwd=package, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_tradeloop_lists_and_validates_it_once_enabled(
    generated: tuple[Path, Path], tmp_path: Path
) -> None:
    _, site = generated
    listed = run_cli("plugins", "--json", cwd=tmp_path, site=site)
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "price_alerts")
    assert (row["source"], row["enabled"]) == ("tradeloop-price_alerts 0.1.0", False)

    enabled = {"TRADELOOP_PLUGINS__PRICE_ALERTS__ENABLED": "true"}
    listed = run_cli("plugins", "--json", cwd=tmp_path, site=site, env=enabled)
    rows = [r for r in json.loads(listed.stdout) if r["name"] == "price_alerts"]
    assert len(rows) == 1
    assert rows[0]["enabled"] is True
    assert rows[0]["loaded"] is True
    assert {
        "declare_settings",
        "lifespan",
        "on_tick",
        "on_reconcile_result",
        "summarize_run",
    } <= set(rows[0]["hooks"])

    checked = run_cli("check", cwd=tmp_path, site=site, env=enabled)
    assert checked.returncode == 0, checked.stderr
    assert "  price_alerts:\n    enabled: true\n" in checked.stdout
    assert "    move_alert_pct: 1.0\n" in checked.stdout

    bad = {**enabled, "TRADELOOP_PLUGINS__PRICE_ALERTS__MOVE_ALERT_PCT": "0"}
    refused = run_cli("check", cwd=tmp_path, site=site, env=bad)
    assert refused.returncode == 2
    assert "plugins.price_alerts.move_alert_pct = 0 is not allowed" in refused.stderr
