"""The backtest loop: ticks per second of a full backtest (both example strategies, every
plugin a backtest runs) next to a bare loop that only decodes the same candles along the same
intra-candle path, in the same process; and the peak RSS of a short and a long period, the
reports (every trade listed) written as ``tradeloop backtest`` writes them.

Data: 1m candles of 10 symbols (seeded random walks, Binance's archive layout), generated once
into a temporary folder. Each period runs in a fresh process (its peak RSS is its own). Prints
JSON with the machine's load average.

    .venv/bin/python benchmarks/bench_backtest.py                 # 1 week and 1 month (31 d)
    .venv/bin/python benchmarks/bench_backtest.py --days 3 --short-days 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST = date(2026, 1, 1)
SYMBOLS: dict[str, tuple[float, int]] = {
    "BTCUSDT": (65000.0, 1),
    "ETHUSDT": (3500.0, 2),
    "BNBUSDT": (600.0, 3),
    "SOLUSDT": (150.0, 4),
    "XRPUSDT": (0.6, 4),
    "ADAUSDT": (0.45, 4),
    "DOGEUSDT": (0.12, 5),
    "LTCUSDT": (80.0, 2),
    "LINKUSDT": (15.0, 3),
    "AVAXUSDT": (30.0, 3),
}
SETTINGS = """\
default:
  runtime: {{data_dir: {run}}}
  exchange: {{symbols: [{symbols}]}}
  strategies:
    - id: ma_btc
      use: ma_crossover
      params: {{symbol: BTCUSDT, fast: 5, slow: 15, interval: 60, quantity: "0.002"}}
    - id: grid_eth
      use: grid
      params: {{symbol: ETHUSDT, levels: 2, step: "5", quantity: "0.01", recenter_every: 300}}
"""


def generate(folder: Path, days: int) -> None:
    from plugins.backtest.testing import write_days

    for symbol, (price, decimals) in SYMBOLS.items():
        write_days(folder, symbol, FIRST, days, price=price, decimals=decimals, seed=7)


def child(data: Path, work: Path, days: int) -> dict[str, Any]:
    """One period in this process: the bare decode loop, then the backtest."""
    from framework.runtime import run_async
    from plugins.backtest.data import day_start
    from plugins.backtest.feed import SymbolFeed, locate, merged
    from plugins.backtest.render import write_reports
    from plugins.backtest.runner import Request, run_backtest

    start = day_start(FIRST)
    end = start + days * 86_400_000
    symbols = list(SYMBOLS)
    began = time.perf_counter()
    cpu = time.process_time()
    located = locate(data, symbols, "1m", start, end)
    feeds = [SymbolFeed(d, i, "1m", start, end, []) for i, d in enumerate(located)]
    bare = sum(1 for _ in merged(feeds))
    bare_s = time.perf_counter() - began
    bare_cpu = time.process_time() - cpu
    settings = work / "settings.yaml"
    settings.write_text(SETTINGS.format(run=work / "run", symbols=", ".join(symbols)))
    request = Request(start, end, settings_file=str(settings), data_dir=data, out=work / "out")
    cpu = time.process_time()
    results, out, perf = run_async(run_backtest(request), use_uvloop=True)
    backtest_cpu = time.process_time() - cpu
    began = time.perf_counter()
    write_reports(results, out)
    reports_s = time.perf_counter() - began
    return {
        "days": days,
        "symbols": len(symbols),
        "bare_decode": {
            "ticks": bare,
            "seconds": round(bare_s, 3),
            "cpu_seconds": round(bare_cpu, 3),
            "ticks_per_cpu_s": round(bare / bare_cpu),
            "ticks_per_s": round(bare / bare_s),
        },
        "backtest": {
            "ticks": perf["ticks"],
            "seconds": perf["elapsed_s"],
            "cpu_seconds": round(backtest_cpu, 3),
            "ticks_per_cpu_s": round(perf["ticks"] / backtest_cpu),
            "ticks_per_s": perf["ticks_per_s"],
            "trades": results["summary"]["trades"],
            "paused": perf["strategies_paused"],
            "reports_seconds": round(reports_s, 3),
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=31, help="the long period (days)")
    parser.add_argument("--short-days", type=int, default=7, help="the short period (days)")
    parser.add_argument(
        "--child", nargs=3, metavar=("DATA", "WORK", "DAYS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        data, work, days = args.child
        print(json.dumps(child(Path(data), Path(work), int(days))))
        return
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        data = Path(tmp) / "data"
        began = time.perf_counter()
        generate(data, args.days)
        generated = time.perf_counter() - began
        runs = []
        for days in (args.short_days, args.days):
            work = Path(tmp) / f"work-{days}"
            work.mkdir()
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(data), str(work), str(days)],
                check=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(
        json.dumps(
            {
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "cpus": os.cpu_count(),
                "data_generation_s": round(generated, 1),
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
