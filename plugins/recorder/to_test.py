"""``tradeloop replay FILE --to-test PATH``: a recording becomes a pytest case in one step.

The recording's files are copied to ``recordings/`` beside the test file and the test replays
them with ``plugins.recorder.testing.replay_recording``, asserting that the replay ends as the
live run did (fills, reconcile results, final cache) and that the recording answered every
request the bot made. Add the incident's own assertions under the marked line.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .format import parts_of

TEMPLATE = '''"""Regression test replaying the recording {recording} (made by ``tradeloop replay
--to-test``; see docs/replay.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.recorder.testing import replay_recording

RECORDING = Path(__file__).parent / "recordings" / "{recording}"


@pytest.mark.asyncio  # needed where pytest-asyncio runs in its default, strict mode
async def test_{name}_replays_as_recorded() -> None:
    result = await replay_recording(RECORDING)
    # the replay ends as the live run did: fills, reconcile results, final cache
    assert result.differences == []
    assert result.unanswered == []
    # the incident's own checks, for example:
    # assert result.outcome["cache"]["positions"] == []
    # assert all(r["status"] == "ok" for r in result.outcome["reconcile"])
'''


def test_name(path: Path) -> str:
    """A Python identifier from the test file's name (``test_incident_x.py`` -> ``incident_x``)."""
    stem = path.stem.removeprefix("test_")
    return re.sub(r"\W", "_", stem).strip("_") or "recording"


def write_test(recording: Path, test_file: Path) -> list[Path]:
    """Copy the recording (every part from ``recording`` on) beside ``test_file`` and write the
    test; the paths written. Refuses to overwrite an existing test file (``FileExistsError``)."""
    if test_file.exists():
        raise FileExistsError(f"{test_file} exists; choose another name")
    folder = test_file.parent / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for part in parts_of(recording):
        target = folder / part.name
        shutil.copyfile(part, target)
        written.append(target)
    test_file.parent.mkdir(parents=True, exist_ok=True)
    test_file.write_text(TEMPLATE.format(recording=recording.name, name=test_name(test_file)))
    written.append(test_file)
    return written
