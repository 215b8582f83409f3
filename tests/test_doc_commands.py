"""Every shell block of README.md and docs/ marked ``<!-- run -->`` runs as written, on a clone.

The blocks run in one clone of the checkout (committed files, with the working tree's edits of
tracked files laid over them), in order: README.md first, then docs/*.md by name, each block in
``bash -e`` from the clone's root. The clone's ``.venv`` is this test run's virtualenv (its
``bin`` also first on ``PATH``), so the installs of the README's first block are not repeated:
CI runs those on a clean checkout. ``console`` blocks run their ``$ `` lines; ``bash`` blocks
run whole. How to mark a block: CONTRIBUTING note in README.md ("Commands in the docs").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, clean_env

MARK = "<!-- run -->"
BLOCK = re.compile(
    r"^(?P<mark><!-- run -->\n)?```(?P<lang>bash|console|sh)\n(?P<body>.*?)^```$", re.M | re.S
)
BLOCK_TIMEOUT = 120


def pages() -> list[Path]:
    """README.md, then every page of docs/ by name."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shell_blocks(text: str) -> list[tuple[bool, str, str]]:
    """(marked to run, language, body) of every shell block of a page."""
    return [(bool(m["mark"]), m["lang"], m["body"]) for m in BLOCK.finditer(text)]


def script(lang: str, body: str) -> str:
    """The commands of a block: a console block's ``$ `` lines, a bash block whole."""
    if lang == "console":
        return "\n".join(line[2:] for line in body.splitlines() if line.startswith("$ "))
    return body


def marked_blocks() -> list[tuple[str, str]]:
    """(where, script) of every block to run, in running order."""
    found = []
    for page in pages():
        for n, (marked, lang, body) in enumerate(shell_blocks(page.read_text(encoding="utf-8"))):
            if marked:
                found.append((f"{page.relative_to(ROOT)} shell block {n + 1}", script(lang, body)))
    return found


def test_blocks_are_found_and_console_prompts_stripped() -> None:
    text = f"{MARK}\n```console\n$ echo hi\nhi\n```\n\n```bash\nfalse\n```\n"
    assert shell_blocks(text) == [(True, "console", "$ echo hi\nhi\n"), (False, "bash", "false\n")]
    assert script("console", "$ echo hi\nhi\n") == "echo hi"
    readme = [where for where, _ in marked_blocks() if where.startswith("README.md")]
    assert readme, "the README's everyday commands are marked to run"


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of the checkout with the working tree's edits and this run's virtualenv."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    target = tmp_path_factory.mktemp("clone") / "tradeloop"
    git = ["git", "-c", "advice.detachedHead=false"]
    subprocess.run([*git, "clone", "--quiet", str(ROOT), str(target)], check=True)
    changed = subprocess.run(
        ["git", "diff", "--name-only", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in changed:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
        else:
            (target / name).unlink(missing_ok=True)
    (target / ".venv").symlink_to(Path(sys.prefix))
    return target


def test_marked_commands_run_as_written(clone: Path) -> None:
    env = clean_env({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    for where, commands in marked_blocks():
        result = subprocess.run(
            ["bash", "-e", "-c", commands],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, f"{where} failed:\n{commands}\n{result.stderr[-3000:]}"
