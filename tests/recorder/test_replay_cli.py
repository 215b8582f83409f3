"""``tradeloop replay``: the command, ``--to-test``, a divergence, a file that is not a
recording."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from framework import ManualClock
from framework.cli import main
from framework.testing import BotFactory
from plugins.recorder.format import MAGIC, Rest, encode_block, read_records
from plugins.recorder.replay import ReplayDiverged
from plugins.recorder.testing import replay_recording
from tests.recorder.test_replay_sim import record_grid_run


def cli(tmp_path: Path, *args: str) -> int:
    """``tradeloop --settings <empty file> ARGS`` (never the working directory's settings)."""
    settings = tmp_path / "settings.yaml"
    settings.write_text("default: {}\n")
    return main(["--settings", str(settings), *args])


async def test_replay_command_and_to_test(
    bot_factory: BotFactory,
    manual_clock: ManualClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, live = await record_grid_run(bot_factory, manual_clock, tmp_path)
    test_file = tmp_path / "incidents" / "test_incident_x.py"

    code = await asyncio.to_thread(cli, tmp_path, "replay", str(path), "--to-test", str(test_file))

    out = capsys.readouterr().out
    assert code == 0, out
    assert "fills, reconcile results and final cache equal the live run's" in out
    assert f"fills: {live['fills']}," in out
    copied = tmp_path / "incidents" / "recordings" / path.name
    assert copied.read_bytes() == path.read_bytes()
    assert f"wrote {test_file}" in out
    # the generated test replays the copy and passes
    spec = importlib.util.spec_from_file_location("test_incident_x", test_file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    await module.test_incident_x_replays_as_recorded()
    # and under pytest outside this project, where pytest-asyncio is in its default strict mode
    run = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=strict",
            test_file.name,
        ],
        cwd=test_file.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    # it will not overwrite a test
    code = await asyncio.to_thread(cli, tmp_path, "replay", str(path), "--to-test", str(test_file))
    assert code == 2
    assert "exists" in capsys.readouterr().err

    code = await asyncio.to_thread(cli, tmp_path, "replay", str(path), "--json")
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["differences"] == []
    assert report["live_outcome"] is True
    assert report["frames"] > 0
    assert report["rest"] > 0


async def test_a_request_the_bot_does_not_make_is_a_divergence(
    bot_factory: BotFactory, manual_clock: ManualClock, tmp_path: Path
) -> None:
    path, _ = await record_grid_run(bot_factory, manual_clock, tmp_path)
    records = list(read_records(path))
    first = next(
        i for i, r in enumerate(records) if isinstance(r, Rest) and r.path != "/fapi/v1/time"
    )
    template = records[first]
    assert isinstance(template, Rest)
    odd = Rest(
        sent_at=template.sent_at,
        at=template.at,
        mono_ns=template.mono_ns,
        method="GET",
        path="/fapi/v1/nothingLikeThis",
        params={"symbol": "BTCUSDT"},
        status=200,
        body=b"{}",
    )
    edited = tmp_path / "edited.0.tlrec"
    edited.write_bytes(MAGIC + encode_block([*records[:first], odd, *records[first:]]))

    with pytest.raises(ReplayDiverged) as info:
        await replay_recording(edited, within=0.5)
    assert f"record {first}" in str(info.value)
    assert "GET /fapi/v1/nothingLikeThis" in str(info.value)


def test_a_file_that_is_not_a_recording_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    assert cli(tmp_path, "replay", str(bogus)) == 2
    assert "not a tradeloop recording" in capsys.readouterr().err
    assert cli(tmp_path, "replay", str(tmp_path / "missing.0.tlrec")) == 2
    assert "missing.0.tlrec" in capsys.readouterr().err
