"""Replaying a recording in a test (``tradeloop replay --to-test`` writes tests that use it)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .replay import ReplayResult, replay_file


async def replay_recording(
    path: str | Path,
    *,
    within: float = 10.0,
    plugins: Mapping[str, object] | None = None,
) -> ReplayResult:
    """Replay the recording at ``path`` through the real bot (``replay.replay_file``); a
    recorded request the bot does not make within ``within`` seconds raises ``ReplayDiverged``.

    ``result.differences`` lists how its fills, reconcile results and final cache differ from
    the live run's (empty: equal); ``result.outcome`` holds them; ``result.summary`` is the
    replayed run's summary. ``plugins``: more plugin objects, e.g. one that records hooks.
    """
    return await replay_file(Path(path), within=within, plugins=plugins)
