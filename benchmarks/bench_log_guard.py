"""The cost of the core's log guard (``framework.log_guard``) per loguru call.

Prints JSON: the per-call cost of a loguru warning to a sink that discards it, without the
guard and with it (redacting every message with the settings' secrets), and of a call below
the level (the guard never sees it), all in one process, medians of ``--repeats``.

    .venv/bin/python benchmarks/bench_log_guard.py            # --repeats 5 --calls 20000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from loguru import logger

from framework.log_guard import guard_logging

SECRETS = (
    "tradeloop-sim-demo-key-0000000000000000000000000000000000000000000000",
    "tradeloop-sim-demo-secret-00000000000000000000000000000000000000000000",
)


def per_call_us(calls: int, level: str) -> float:
    log = getattr(logger, level)
    start = time.perf_counter()
    for i in range(calls):
        log("order {} filled at {} on BTCUSDT", i, 65000.1)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    logger.remove()
    logger.add(lambda _: None, level="INFO", format="{message}")
    runs: dict[str, list[float]] = {"unguarded_us": [], "guarded_us": [], "below_level_us": []}
    for _ in range(args.repeats):
        runs["unguarded_us"].append(per_call_us(args.calls, "warning"))
    guard_logging(SECRETS)  # for the rest of the process: loguru cannot unset a patcher
    for _ in range(args.repeats):
        runs["guarded_us"].append(per_call_us(args.calls, "warning"))
        runs["below_level_us"].append(per_call_us(args.calls, "debug"))
    out = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    out["guard_cost_us"] = round(out["guarded_us"] - out["unguarded_us"], 3)
    print(json.dumps({"repeats": args.repeats, "calls": args.calls, **out}, indent=2))


if __name__ == "__main__":
    main()
