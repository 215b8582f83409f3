"""docs/strategies.md is real: its files are written, run, tested and installed here.

Blocks with ``title="my-bot/..."`` (or another folder) are files of the tutorial; blocks with
``from="path"`` are excerpts that must still be in that file of the repository; the error lines
the tutorial shows are what tradeloop prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.support import ROOT, pip_install, run_cli

DOC = ROOT / "docs" / "strategies.md"
FENCE = re.compile(r"^```(?P<lang>\w*)(?P<attrs>[^\n]*)\n(?P<body>.*?)^```$", re.M | re.S)
ATTR = re.compile(r'(\w+)="([^"]*)"')
FILES = {
    "my-bot/dipbuyer.py",
    "my-bot/settings.yaml",
    "my-bot/pytest.ini",
    "my-bot/test_dipbuyer.py",
    "my-bot/pyproject.toml",
    "packaged/settings.yaml",
}


def blocks() -> list[tuple[str, dict[str, str], str]]:
    """(language, attributes, body) of every fenced block of the tutorial."""
    text = DOC.read_text(encoding="utf-8")
    return [(m["lang"], dict(ATTR.findall(m["attrs"])), m["body"]) for m in FENCE.finditer(text)]


def error_lines() -> list[str]:
    return [
        line
        for lang, _, body in blocks()
        if lang == "text"
        for line in body.splitlines()
        if line.startswith("tradeloop: error:")
    ]


def env_for(pythonpath: Path | None) -> dict[str, str]:
    """The tutorial's environment: tradeloop reads ./settings.yaml, imports from PYTHONPATH."""
    return {} if pythonpath is None else {"PYTHONPATH": str(pythonpath)}


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding every file of the tutorial (``my-bot/``, ``packaged/``)."""
    root = tmp_path_factory.mktemp("tutorial")
    for _, attrs, body in blocks():
        if "title" in attrs:
            path = root / attrs["title"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
    return root


def test_the_tutorial_has_every_file(tutorial: Path) -> None:
    titled = {a["title"] for _, a, _ in blocks() if "title" in a}
    assert titled == FILES


def test_excerpts_are_still_in_their_files() -> None:
    excerpts = [(a["from"], body) for _, a, body in blocks() if "from" in a]
    assert len(excerpts) >= 5
    for source, body in excerpts:
        lines = (ROOT / source).read_text(encoding="utf-8").splitlines()
        want = textwrap.dedent(body).strip("\n")
        size = len(want.splitlines())
        windows = (
            textwrap.dedent("\n".join(lines[i : i + size])) for i in range(len(lines) - size + 1)
        )
        assert want in windows, f"docs/strategies.md quotes {source}, which no longer has:\n{body}"


def test_check_and_run_from_the_folder(tutorial: Path) -> None:
    folder = tutorial / "my-bot"
    env = env_for(pythonpath=None)  # the settings file's folder is searched: no PYTHONPATH
    check = run_cli("check", cwd=folder, env=env)
    assert check.returncode == 0, check.stderr
    assert "use: dipbuyer:DipBuyer" in check.stdout
    run = run_cli("run", "--for", "3", "--summary", "run.json", cwd=folder, env=env)
    assert run.returncode == 0, run.stderr
    summary = json.loads((folder / "run.json").read_text())
    assert summary["strategies"]["dip"]["state"] == "running"
    assert summary["plugin_errors"] == {}


def test_the_errors_shown_are_the_real_ones(tutorial: Path, tmp_path: Path) -> None:
    bad_params, not_importable = error_lines()
    (tmp_path / "settings.yaml").write_text(
        'default:\n  strategies:\n  - {id: dip, use: "dipbuyer:DipBuyer", params: {dip: "0"}}\n',
        encoding="utf-8",
    )
    result = run_cli("check", cwd=tmp_path, env=env_for(pythonpath=tutorial / "my-bot"))
    assert (result.returncode, result.stderr.strip()) == (2, bad_params)
    (tmp_path / "settings.yaml").write_text(
        'default:\n  strategies:\n  - {id: dip, use: "dipbuyr:DipBuyer"}\n', encoding="utf-8"
    )
    result = run_cli("check", cwd=tmp_path, env=env_for(pythonpath=tutorial / "my-bot"))
    assert (result.returncode, result.stderr.strip()) == (2, not_importable)


def test_the_tutorial_tests_pass(tutorial: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADELOOP_", "PYTHONPATH"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tutorial / "my-bot",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_the_package_is_found_by_its_entry_point(tutorial: Path, tmp_path: Path) -> None:
    source = shutil.copytree(tutorial / "my-bot", tmp_path / "my-bot")
    site = tmp_path / "site"
    pip_install(source, target=site, cwd=tmp_path)
    folder = tutorial / "packaged"  # no dipbuyer.py here: only the installed package has it
    result = run_cli("plugins", "--json", cwd=folder, env=env_for(pythonpath=site))
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    row = rows["strategy:dip"]
    assert (row["source"], row["enabled"]) == ("strategy 'dipbuyer' (my-bot 0.1.0)", True)
    shown = next(b for _, _, b in blocks() if b.startswith("strategy:dip ")).split()
    assert shown == [
        "strategy:dip",
        *row["source"].split(),
        "yes",
        *", ".join(row["hooks"]).split(),
    ]


def test_the_first_install_brings_what_the_test_step_runs() -> None:
    """Step 1 installs tradeloop with the extras that hold pytest and pytest-asyncio, which the
    tutorial's test step (``.venv/bin/python -m pytest``) needs."""
    commands = [line for lang, _, body in blocks() if lang == "console" for line in body.split()]
    first = next(
        i
        for i, word in enumerate(commands)
        if word.endswith("pip") and "install" in commands[i + 1 : i + 2]
    )
    target = commands[first + 3].strip("'\"")
    assert target.startswith("."), target
    extras = re.findall(r"\[([\w,]+)\]", target)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = project["optional-dependencies"]
    installed = {
        re.split(r"[<>=\[ ]", requirement, maxsplit=1)[0]
        for extra in ",".join(extras).split(",")
        if extra
        for requirement in optional[extra]
    }
    assert {"pytest", "pytest-asyncio"} <= installed, target
