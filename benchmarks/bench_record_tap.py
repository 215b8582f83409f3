"""The flight recorder's tap alone: loop-thread CPU per user-data frame (no sockets, no writer).

Calls the ``user_data`` tap of ``--root``'s recorder (default: this checkout; another checkout,
e.g. the code before a change, to compare) on the harness's 1,024 ACCOUNT_UPDATE frames,
``--rounds`` times, and prints JSON: the median and the 10th percentile of the rounds' µs per
frame (``time.thread_time``). Run two checkouts alternately to compare them:

    for i in 1 2 3; do for d in /tmp/before .; do
      PEERS_DIR=/work/shared/bench/peers .venv/bin/python benchmarks/bench_record_tap.py --root $d
    done; done
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(os.environ.get("PEERS_DIR", ROOT.parent / "shared" / "bench" / "peers"))


async def measure(root: Path, rounds: int) -> dict[str, Any]:
    for path in (str(root), str(PEERS)):
        if path not in sys.path:
            sys.path.insert(0, path)
    from msgs import make_payload_tails  # the harness's own messages

    from plugins.recorder import recorder as module
    from plugins.recorder.settings import RecorderSettings

    if not Path(module.__file__).is_relative_to(root):
        raise SystemExit(f"imported {module.__file__}, not {root}'s recorder")
    frames = [b'{"st":1234567890123456789,' + t[1:] for t in make_payload_tails("account")]
    with tempfile.TemporaryDirectory() as folder:
        recorder = module.Recorder(
            RecorderSettings(), Path(folder), clock=None, settings={}, version="bench"
        )
        queue: deque[Any] = deque()
        recorder._queue = queue  # no writer thread: what the loop pays per frame, alone
        tap = recorder.stream_frames("user_data")
        out = []
        for _ in range(rounds):
            queue.clear()
            start = time.thread_time()
            for frame in frames:
                tap(frame)
            out.append((time.thread_time() - start) / len(frames) * 1e6)
    out.sort()
    return {
        "root": str(root),
        "bytes_per_frame": round(sum(map(len, frames)) / len(frames), 1),
        "median_us_per_frame": round(statistics.median(out), 3),
        "p10_us_per_frame": round(out[len(out) // 10], 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=ROOT, help="the checkout whose recorder to time")
    p.add_argument("--rounds", type=int, default=200, help="runs of the 1,024 frames")
    args = p.parse_args()
    print(json.dumps(asyncio.run(measure(args.root.resolve(), args.rounds))))


if __name__ == "__main__":
    main()
