"""Replay speed: record a real-time run against the embedded simulator, replay it, print JSON.

The recorded run is a real bot on the system clock (the ``binance`` connector, reconciliation
every few seconds, the ``grid`` example trading BTCUSDT) against the embedded simulator moving
two symbols ``--rate`` times a second each, for ``--seconds``. The replay then feeds that
recording through the same bot on a manual clock (``tradeloop replay``) as fast as it goes.
The JSON gives the replay's messages (frames and REST answers) per second of wall time, the
recorded run's own rate, and whether the replay ended as the live run did (a replay that
diverged gives ``diverged``: where, and what the bot did not do). ``--file`` replays an
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
        try:
            result = await replay_file(path)
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
