"""Shared fixtures: the example and test plugin packages, installed for real; the guard that
keeps the suite out of the checkout's ``data/`` and ``reports/`` folders; and ``log_lines``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from tests.support import PACKAGES, ROOT, pip_install

# Folders a bot writes relative to its working directory by default (runtime.data_dir,
# plugins.daily_report.dir). The suite must leave the checkout's copies exactly as they were.
USER_FOLDERS = ("data", "reports")
_STASH_KEY = pytest.StashKey[dict[str, tuple[int, int]]]()


def folder_state(root: Path, folders: tuple[str, ...] = USER_FOLDERS) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root``'s ``folders``: path -> (size, mtime in ns)."""
    state: dict[str, tuple[int, int]] = {}
    for name in folders:
        top = root / name
        if not top.exists():
            continue
        for path in [top, *top.rglob("*")]:
            stat = path.lstat()
            state[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return state


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remember the checkout's data folders as they are before any test runs."""
    session.stash[_STASH_KEY] = folder_state(ROOT)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test wrote into (or removed from) the checkout's data folders."""
    before = session.stash.get(_STASH_KEY, None)
    if before is None:
        return
    after = folder_state(ROOT)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "tests changed the checkout's user folders: " + ", ".join(changed)
        if reporter is not None:
            reporter.write_line(f"ERROR: {message}", red=True)
        else:
            sys.stderr.write(f"ERROR: {message}\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where pip installed the example and test plugin distributions."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    pip_install(*PACKAGES, target=target, cwd=build)
    return target


@pytest.fixture
def with_plugin_site(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the installed test distributions visible to entry-point discovery in this process."""
    monkeypatch.syspath_prepend(str(plugin_site))
    before = set(sys.modules)
    yield plugin_site
    for name in set(sys.modules) - before:
        if name.startswith(("tradeloop_hello", "tradeloop_testplugins")):
            del sys.modules[name]


@pytest.fixture(autouse=True)
def _no_tradeloop_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's TRADELOOP_ variables."""
    for key in list(os.environ):
        if key.startswith("TRADELOOP_"):
            monkeypatch.delenv(key)


@pytest.fixture(autouse=True)
def _away_from_the_checkout(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test runs in an empty working directory of its own, so a bot's relative paths
    (``data/``, ``reports/``, ``settings.yaml``) never reach the checkout or the user's files."""
    cwd = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(cwd)
    return cwd


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every log message written while the test runs (DEBUG and up, the message alone)."""
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG", format="{message}")
    yield lines
    logger.remove(sink)
