"""A real ``tradeloop run`` on the embedded simulator, with the journal in a tmp data dir:
a shutdown beside misbehaving plugins, a locked database at stop, a killed process."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support import TRADELOOP, clean_env

SETTINGS = """\
default:
  runtime: {shutdown_timeout: %(timeout)s}
  plugins:
    daily_report: {catch_up: false}
    status: {enabled: false}
"""


@contextmanager
def running_bot(
    tmp_path: Path,
    *,
    timeout: float = 5,
    heartbeat: float | None = None,
    env: Mapping[str, str] | None = None,
    site: Path | None = None,
) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """``tradeloop run --summary summary.json`` with its data in ``tmp_path/data``, once both
    streams are connected (as the journal recorded them); killed if the test left it running."""
    settings = SETTINGS % {"timeout": timeout}
    if heartbeat is not None:
        settings += f"    journal: {{heartbeat_every: {heartbeat}}}\n"
    (tmp_path / "settings.yaml").write_text(settings, encoding="utf-8")
    extra = {"TRADELOOP_RUNTIME__DATA_DIR": str(tmp_path / "data"), **(env or {})}
    if site is not None:
        extra["PYTHONPATH"] = str(site)
    proc = subprocess.Popen(
        [str(TRADELOOP), "run", "--summary", "summary.json"],
        cwd=tmp_path,
        env=clean_env(extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    journal = tmp_path / "data" / "journal-sim.sqlite3"
    try:
        deadline = time.monotonic() + 30
        while not streams_connected(journal):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the bot did not connect"
            time.sleep(0.1)
        yield proc, journal
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def streams_connected(path: Path) -> bool:
    """Both streams recorded as connected in the journal at ``path``."""
    if not path.exists():
        return False
    try:
        with sqlite3.connect(path) as db:
            rows = db.execute(
                "SELECT DISTINCT stream FROM stream_states WHERE state = 'connected'"
            ).fetchall()
    except sqlite3.Error:
        return False
    return len(rows) == 2


def test_shutdown_stops_everyone_beside_a_hanging_and_a_failing_stop(
    tmp_path: Path, plugin_site: Path
) -> None:
    """A plugin hanging 60 s in its stop and one raising in it: the process still exits 0
    within ``runtime.shutdown_timeout`` + 2 s and the journal closes its run."""
    timeout = 3.0
    env = {
        "TRADELOOP_PLUGINS__HANGING_STOP__ENABLED": "true",
        "TRADELOOP_PLUGINS__FAILING_STOP__ENABLED": "true",
    }
    with running_bot(tmp_path, timeout=timeout, env=env, site=plugin_site) as (proc, journal):
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - signalled
    assert proc.returncode == 0, err
    assert took <= timeout + 2, f"shutdown took {took:.1f} s"
    with sqlite3.connect(journal) as db:
        runs = db.execute("SELECT stopped_at, stop_reason FROM runs").fetchall()
        errors = db.execute("SELECT plugin, hook FROM plugin_errors ORDER BY plugin").fetchall()
    assert len(runs) == 1
    assert runs[0][0] is not None
    assert runs[0][1] == "signal SIGTERM"
    assert errors == [("failing_stop", "lifespan"), ("hanging_stop", "lifespan")]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert sorted(summary["stop_failures"]) == ["failing_stop", "hanging_stop"]
    assert summary["lost_records"] == {}
    assert summary["journal"]["dropped"] == 0


def test_records_lost_to_a_locked_database_exit_3_and_are_counted(tmp_path: Path) -> None:
    with running_bot(tmp_path, timeout=2) as (proc, journal):
        locker = sqlite3.connect(journal, isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            locker.close()
    assert proc.returncode == 3, err
    summary = json.loads((tmp_path / "summary.json").read_text())
    lost = summary["lost_records"]["journal"]
    assert lost > 0
    assert summary["journal"]["dropped"] == lost
    assert f"records were lost: journal lost {lost}" in err
    assert "records could not be written at stop" in err


def test_a_killed_run_is_seen_up_to_its_last_heartbeat(tmp_path: Path) -> None:
    """SIGKILL: no stop is recorded, but ``last_seen`` follows the heartbeat, not the 300 s
    equity samples, so the run's uptime is known to within the heartbeat."""
    with running_bot(tmp_path, heartbeat=0.2) as (proc, journal):
        started, seen = _run_times(journal)
        deadline = time.monotonic() + 30
        while seen - started < 2000:
            assert time.monotonic() < deadline, f"last_seen stayed at {seen - started} ms"
            time.sleep(0.1)
            started, seen = _run_times(journal)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(journal) as db:
        ((stopped_at, last_seen),) = db.execute("SELECT stopped_at, last_seen FROM runs")
    assert stopped_at is None
    assert last_seen >= seen


def _run_times(journal: Path) -> tuple[int, int]:
    with sqlite3.connect(journal) as db:
        ((started, seen),) = db.execute("SELECT started_at, last_seen FROM runs")
    return int(started), int(seen)
