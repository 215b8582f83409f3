"""Shared fixtures: the example and test plugin packages, installed for real."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import PACKAGES, pip_install


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
