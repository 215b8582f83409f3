"""Replay speed: record a real-time run against the embedded simulator, replay it, print JSON.

The recorded run is a real bot on the system clock (the ``binance`` connector, reconciliation
every few seconds, the ``grid`` example trading BTCUSDT) against the embedded simulator moving
two symbols ``--rate`` times a second each, for ``--seconds``. The replay then feeds that
recording through the same bot on a manual clock (``tradeloop replay``) as fast as it goes.
The JSON gives the replay's messages (frames and REST answers) per second of wall time, the
recorded run's own rate, and whether the replay ended as the live run did (a replay that
diverged gives ``diverged``: where, and what the bot did not do). ``requests_off_place``
counts the requests (before the stop) the replayed bot sent with fewer (``early``) or more
(``late``) frames taken than the live bot had when it sent them (0 and 0: the replay kept
the live interleaving). ``--file`` replays an
existing recording instead.

    .venv/bin/python benchmarks/bench_replay.py --seconds 20 --rate 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


async def record(directory: Path, seconds: float, rate: float) -> tuple[Path, dict[str, Any]]:
    """A real-time run with the recorder on; its recording and summary."""
    from framework.loader import load_plugins
    from framework.runtime import Bot
    from framework.settings import load_settings

    settings = load_settings(
        use_files=False,
        overrides={
            "exchange": {"name": "sim", "symbols": ["BTCUSDT", "ETHUSDT"]},
            "runtime": {"data_dir": str(directory)},
            "plugins": {
                **{
                    name: {"enabled": False}
                    for name in ("journal", "daily_report", "status", "smart_logging")
                },
                "sim": {"seed": 11, "updates_per_second": rate, "persist": False},
                "reconciliation": {"interval": 10},
                "recorder": {"enabled": True, "directory": str(directory / "recordings")},
            },
            "strategies": [
                {
                    "id": "grid",
                    "use": "grid",
                    "params": {"symbol": "BTCUSDT", "levels": 3, "step": "5", "quantity": "0.002"},
                }
            ],
        },
    )
    bot = Bot(settings, load_plugins(settings))
    await bot.start()
    await asyncio.sleep(seconds)
    summary = await bot.stop()
    return Path(summary["recorder"]["files"][0]), summary


def live_places(path: Path) -> list[int]:
    """Frames the live connector had taken when each request left, up to the stop (from the
    recording's ``Sent`` markers; empty for a recording without them)."""
    from plugins.recorder.format import Frame, Sent, Stop, read_records

    places: list[int] = []
    frames = 0
    for record in read_records(path):
        if isinstance(record, Stop):
            break
        if isinstance(record, Frame):
            frames += 1
        elif isinstance(record, Sent):
            places.append(frames)
    return places


def placement_observer() -> Any:
    """A plugin counting the frames the replayed connector had taken when each request left
    (a frame tap of its own, registered before the connector starts)."""
    import contextlib
    from collections.abc import AsyncIterator, Callable

    from framework import BotContext, hookimpl

    class Placement:
        start_priority = 55  # after the replay's exchange (50), before the connector

        def __init__(self) -> None:
            self.taken = 0
            self.places: list[int] = []

        @hookimpl
        def lifespan(self, ctx: BotContext) -> contextlib.AbstractAsyncContextManager[None]:
            return self._lifespan(ctx)

        @contextlib.asynccontextmanager
        async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
            ctx.add_frame_tap(self)
            try:
                yield
            finally:
                ctx.remove_frame_tap(self)

        def stream_frames(self, stream: str) -> Callable[[bytes], None]:
            def took(data: bytes) -> None:
                self.taken += 1

            return took

        def rest_sent(self) -> float:
            self.places.append(self.taken)
            return 0.0

        def rest_answered(self, *answer: object) -> None:
            return None

    return Placement()


def placement(live: list[int], replayed: list[int]) -> dict[str, int]:
    """How many requests the replayed bot sent with fewer (``early``) or more (``late``)
    frames taken than the live one had, among the live run's requests before its stop."""
    pairs = list(zip(live, replayed, strict=False))
    return {
        "requests": len(live),
        "early": sum(r < w for w, r in pairs),
        "late": sum(r > w for w, r in pairs),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from plugins.recorder.replay import ReplayDiverged, replay_file

    with tempfile.TemporaryDirectory(prefix="tradeloop-bench-replay-") as folder:
        live: dict[str, Any] = {}
        if args.file:
            path = Path(args.file)
        else:
            began = time.perf_counter()
            path, summary = await record(Path(folder), args.seconds, args.rate)
            live = {
                "seconds": round(time.perf_counter() - began, 2),
                "frames": summary["recorder"]["frames"],
                "rest": summary["recorder"]["rest"],
                "bytes": summary["recorder"]["bytes"],
                "fills": summary["fills"],
            }
        places = live_places(path)
        observer = placement_observer()
        try:
            result = await replay_file(path, plugins={"bench-placement": observer})
        except ReplayDiverged as exc:  # counted as a result, not a crash
            return {"live": live, "replay": {"equal_to_live": False, "diverged": str(exc)}}
    return {
        "live": live,
        "replay": {
            "frames": result.frames,
            "rest": result.rest,
            "seconds": round(result.seconds, 3),
            "messages_per_s": round(result.messages_per_second),
            "equal_to_live": result.live is not None and not result.differences,
            "differences": result.differences,
            "unanswered": result.unanswered,
            "skipped": result.skipped,
            "fills": len(result.outcome["fills"]),
            "reconcile_results": len(result.outcome["reconcile"]),
            "requests_off_place": placement(places, observer.places),
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0, help="length of the recorded run")
    p.add_argument("--rate", type=float, default=500.0, help="price updates per second a symbol")
    p.add_argument("--file", default="", help="replay this recording instead of making one")
    args = p.parse_args()
    from framework.runtime import run_async

    print(json.dumps(run_async(main_async(args)), indent=2))


if __name__ == "__main__":
    main()
