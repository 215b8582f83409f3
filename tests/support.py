"""Helpers shared by the test suite: paths, a clean environment and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Binance's documented example payloads, copied from ../shared/binance/payloads (see SOURCES.md
# there) so the suite runs on a clone alone; tests/sim/test_rest_shapes.py checks the copies.
PAYLOADS = ROOT / "tests" / "payloads"
SHARED_PAYLOADS = ROOT.parent / "shared" / "binance" / "payloads"
PACKAGES = [
    ROOT / "examples" / "tradeloop-hello",
    ROOT / "tests" / "packages" / "tradeloop-testplugins",
]
TRADELOOP = Path(sys.executable).with_name("tradeloop")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without any TRADELOOP_ variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELOOP_")}
    env.update(extra or {})
    return env


def run_cli(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    site: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``tradeloop`` console script."""
    extra = dict(env or {})
    if site is not None:
        extra["PYTHONPATH"] = str(site)
    return subprocess.run(
        [str(TRADELOOP), *args],
        cwd=cwd,
        env=clean_env(extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pip_install(*packages: Path, target: Path, cwd: Path) -> None:
    """Install ``packages`` (no dependencies, offline) into the ``target`` directory, as a user's
    ``pip install`` would: put ``target`` on ``PYTHONPATH`` to see their entry points."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            *map(str, packages),
        ],
        cwd=cwd,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
