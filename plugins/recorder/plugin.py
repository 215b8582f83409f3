"""The ``recorder`` plugin: the flight recorder, off unless ``plugins.recorder.enabled: true``.

It starts after the simulator and before the connector (``start_priority`` 60), registers its
``Recorder`` as the connector's frame tap (``ctx.add_frame_tap``) and keeps the stream states,
the fills and the reconcile results; when the bot begins to stop it writes a ``Stop`` marker,
and after the connector stopped the run's outcome (``outcome.py``). See ``docs/replay.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from loguru import logger

from framework import BotContext, Fill, ReconcileResult, StreamStatus, SystemClock, hookimpl
from framework.settings import masked

from .outcome import cache_of, fill_row, outcome_of, reconcile_row
from .recorder import Recorder
from .settings import RecorderSettings

NAME = "recorder"
START_PRIORITY = 60  # after the simulator (50), before the connector (100)


def tradeloop_version() -> str:
    """The installed tradeloop's version."""
    try:
        return version("tradeloop")
    except PackageNotFoundError:
        return "unknown"


class RecorderPlugin:
    """Records every raw frame and REST answer the connector receives (``docs/replay.md``)."""

    start_priority = START_PRIORITY

    def __init__(self, config: RecorderSettings | None = None) -> None:
        self.config = config or RecorderSettings()
        self.recorder: Recorder | None = None
        self._fills: list[dict[str, Any]] = []
        self._results: list[dict[str, Any]] = []

    @staticmethod
    @hookimpl
    def declare_settings() -> type[RecorderSettings]:
        """The ``plugins.recorder`` block."""
        return RecorderSettings

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Record while the bot runs."""
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        default = Path(ctx.settings.runtime.data_dir) / "recordings"
        recorder = Recorder(
            self.config,
            Path(self.config.directory) if self.config.directory else default,
            clock=None if isinstance(ctx.clock, SystemClock) else ctx.clock.time,
            settings=masked(ctx.settings.as_dict()),
            version=tradeloop_version(),
        )
        await asyncio.to_thread(recorder.start)
        self.recorder = recorder
        ctx.add_frame_tap(recorder)
        ctx.spawn(_mark_stop(recorder), name="recorder:stop-marker", owner=NAME)
        logger.info("recorder: writing {}", recorder.paths[0])
        try:
            yield
        finally:
            ctx.remove_frame_tap(recorder)
            try:
                recorder.outcome(outcome_of(self._fills, self._results, cache_of(ctx.cache)))
            finally:
                await asyncio.to_thread(recorder.close)
            logger.info(
                "recorder: {:,} frames, {:,} REST answers in {} file(s), {:,} bytes: {}",
                recorder.stats.frames,
                recorder.stats.rest,
                recorder.stats.files,
                recorder.stats.bytes_written,
                ", ".join(str(p) for p in recorder.paths),
            )

    @hookimpl
    def on_stream_state(self, status: StreamStatus) -> None:
        """Record the change (in order with the frames: this handler is synchronous)."""
        if self.recorder is not None:
            self.recorder.state(
                status.stream, str(status.state), status.reason, status.needs_resync
            )

    @hookimpl
    def on_fill(self, fill: Fill) -> None:
        """Keep the fill for the run's outcome."""
        self._fills.append(fill_row(fill))

    @hookimpl
    def on_reconcile_result(self, result: ReconcileResult) -> None:
        """Keep the result for the run's outcome."""
        self._results.append(reconcile_row(result))

    @hookimpl
    def summarize_run(self, ctx: BotContext) -> Mapping[str, Any] | None:
        """``recorder``: what was written where."""
        recorder = self.recorder
        if recorder is None:
            return None
        stats = recorder.stats
        return {
            NAME: {
                "files": [str(p) for p in recorder.paths],
                "frames": stats.frames,
                "rest": stats.rest,
                "records": stats.records,
                "blocks": stats.blocks,
                "stored_blocks": stats.stored_blocks,
                "bytes": stats.bytes_written,
                "overflows": stats.overflows,
                "write_errors": stats.write_errors,
                "writer_cpu": round(stats.writer_cpu, 3),
            }
        }


async def _mark_stop(recorder: Recorder) -> None:
    """Wait until cancelled (the bot cancels spawned tasks first when it stops): mark it."""
    try:
        await asyncio.Event().wait()
    finally:
        recorder.stop_marker()
