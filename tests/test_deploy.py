"""The Dockerfile and the systemd unit example run the bot with its data folder kept aside."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import tomllib
import uuid

import pytest

from framework.errors import EXIT_USAGE
from framework.settings import RuntimeSettings
from tests.support import ROOT

DOCKERFILE = ROOT / "Dockerfile"
UNIT = ROOT / "examples" / "systemd" / "tradeloop.service"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_image_holds_every_package_and_keeps_data_on_a_volume() -> None:
    steps = _instructions()
    copied = {arg.split()[-2] for op, arg in steps if op == "COPY"}
    find = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["packages"]["find"]
    assert {pattern.rstrip("*") for pattern in find["include"]} <= copied
    assert {"pyproject.toml", "settings.yaml"} <= {
        word for op, arg in steps if op == "COPY" for word in arg.split()
    }
    workdir = [arg for op, arg in steps if op == "WORKDIR"][-1]
    volume = next(arg for op, arg in steps if op == "VOLUME")
    assert f'"{workdir}/{RuntimeSettings().data_dir}"' in volume
    assert ("USER", "bot") in steps
    assert ("ENTRYPOINT", '["tradeloop"]') in steps


def test_the_systemd_unit_runs_the_bot_and_lets_it_write_only_its_data() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(UNIT, encoding="utf-8")
    service = unit["Service"]
    home = service["WorkingDirectory"]
    assert service["ExecStart"] == f"{home}/.venv/bin/tradeloop run"
    assert service["KillSignal"] == "SIGTERM"
    assert service["RestartPreventExitStatus"] == str(EXIT_USAGE)
    assert f"{home}/{RuntimeSettings().data_dir}" in service["ReadWritePaths"].split()
    assert service["ProtectSystem"] == "strict"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def _container_runtime() -> str:
    """The docker or podman that works here; skips the test, saying why, otherwise."""
    reasons = []
    for tool in ("docker", "podman"):
        if shutil.which(tool) is None:
            reasons.append(f"{tool} is not installed")
            continue
        info = subprocess.run(
            [tool, "info"], capture_output=True, text=True, timeout=60, check=False
        )
        if info.returncode == 0:
            return tool
        last = (info.stderr.strip().splitlines() or ["no output"])[-1]
        reasons.append(f"`{tool} info` failed: {last}")
    pytest.skip("no working container runtime: " + "; ".join(reasons))


def test_the_image_builds_and_runs_the_bot() -> None:
    tool = _container_runtime()
    tag = f"tradeloop-test-{uuid.uuid4().hex[:8]}"
    build = subprocess.run(
        [tool, "build", "-t", tag, str(ROOT)], capture_output=True, text=True, check=False
    )
    assert build.returncode == 0, build.stderr[-3000:]
    volume = f"{tag}-data"
    try:
        run = subprocess.run(
            [tool, "run", "--rm", "-v", f"{volume}:/bot/data", tag, "run", "--for", "5"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        listing = subprocess.run(
            [
                tool,
                "run",
                "--rm",
                "-v",
                f"{volume}:/bot/data",
                "--entrypoint",
                "ls",
                tag,
                "/bot/data",
                "/bot/data/sim",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "journal-sim.sqlite3" in listing.stdout
        assert "account.json" in listing.stdout
    finally:
        subprocess.run([tool, "volume", "rm", "-f", volume], capture_output=True, check=False)
        subprocess.run([tool, "rmi", "-f", tag], capture_output=True, check=False)
