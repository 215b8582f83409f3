"""The daily report over a large generated day: how long it blocks the event loop, how much
memory it takes.

A journal of one busy UTC day is generated once through the real ``SQLiteStore`` (fills,
order updates, balance and position changes, equity samples). Each variant then runs in a
fresh process: a real ``Bot`` with the ``journal`` and ``daily_report`` plugins on that file
writes the day's report (``DailyReportPlugin.write``) while a ticker task wakes every 10 ms.
Reported per run: missed ticker wakeups (a wakeup later than one period counts the periods
it missed), the longest loop block, the wall time of the report and the growth of the
process's peak RSS during it. Prints JSON.

    .venv/bin/python benchmarks/bench_report.py --fills 200000 --reps 3
    # the code before a change as one more variant (a copy of the tree, see benchmarks.md)
    .venv/bin/python benchmarks/bench_report.py --compare before=/tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2024, 5, 1)
DAY_START_MS = 1_714_521_600_000
DAY_MS = 86_400_000
TICK = 0.01
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT")


async def generate(path: Path, fills: int, *, account: bool = True) -> None:
    """A day with ``fills`` fills, as many order updates and (``account``) twice as many
    balance and position changes."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from plugins.journal import (
        BalanceRow,
        FillRow,
        OrderRow,
        PositionRow,
        RunRow,
        SampleRow,
        SQLiteStore,
    )

    store = SQLiteStore(path)
    await store.open()
    run = "bench-run"
    await store.write(
        [RunRow(run_id=run, started_at=DAY_START_MS - 1000, last_seen=DAY_START_MS + DAY_MS)]
    )
    step = DAY_MS // (fills + 1)
    batch: list[Any] = []
    for i in range(fills):
        at = DAY_START_MS + i * step
        symbol = SYMBOLS[i % len(SYMBOLS)]
        price = Decimal(60000 + i % 997) / Decimal(1 + i % len(SYMBOLS))
        qty = Decimal("0.001") * (1 + i % 7)
        side = "BUY" if i % 2 else "SELL"
        batch.append(
            OrderRow(
                ts=at,
                run_id=run,
                symbol=symbol,
                order_id=i,
                client_order_id=f"tl-{i}",
                side=side,
                type="LIMIT",
                status="FILLED",
                price=price,
                orig_qty=qty,
                executed_qty=qty,
                avg_price=price,
                reduce_only=False,
                event_time=at,
            )
        )
        batch.append(
            FillRow(
                ts=at,
                run_id=run,
                symbol=symbol,
                order_id=i,
                trade_id=i,
                client_order_id=f"tl-{i}",
                side=side,
                price=price,
                qty=qty,
                fee=(price * qty * Decimal("0.0004")).quantize(Decimal("0.00000001")),
                fee_asset="USDT",
                realized_pnl=Decimal(i % 13 - 6) / 10,
                is_maker=bool(i % 3),
                event_time=at,
            )
        )
        for k in range(2 if account else 0):
            batch.append(
                BalanceRow(
                    ts=at + k,
                    run_id=run,
                    asset="USDT" if k == 0 else "BNB",
                    wallet_balance=Decimal(10000) + Decimal(i) / 100,
                    cross_wallet_balance=Decimal(10000) + Decimal(i) / 100,
                    available_balance=None,
                    event_time=at + k,
                )
            )
            batch.append(
                PositionRow(
                    ts=at + k,
                    run_id=run,
                    symbol=SYMBOLS[(i + k) % len(SYMBOLS)],
                    side="BOTH",
                    amount=qty * (i % 5),
                    entry_price=price,
                    unrealized_pnl=Decimal(i % 11) / 10,
                    event_time=at + k,
                )
            )
        if len(batch) >= 60_000:
            await store.write(batch)
            batch = []
    for s in range(288):
        at = DAY_START_MS + s * 300_000
        batch.append(
            SampleRow(
                ts=at,
                run_id=run,
                asset="USDT",
                wallet=Decimal(10000),
                unrealized=Decimal(s) / 10,
                equity=Decimal(10000) + Decimal(s) / 10,
                marks={sym: Decimal(60000 + s) for sym in SYMBOLS},
            )
        )
    await store.write(batch)
    await store.close()


def rss_peak_mb() -> float:
    """The process's peak RSS so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(journal: Path, out_dir: Path) -> dict[str, Any]:
    """One report written by a real bot while a ticker counts how late the loop wakes."""
    from framework import ManualClock
    from framework.loader import load_plugins
    from framework.runtime import Bot
    from framework.settings import load_settings
    from plugins.daily_report import DailyReportPlugin, DailyReportSettings
    from plugins.journal import Journal, JournalSettings

    clock = ManualClock(DAY_START_MS / 1000 + DAY_MS / 1000 + 3600)
    reporter = DailyReportPlugin(DailyReportSettings(dir=str(out_dir), catch_up=False))
    journal_plugin = Journal(
        JournalSettings(path=str(journal), snapshot_at_start=False, sample_every=3600)
    )
    settings = load_settings(
        use_files=False, overrides={"runtime": {"data_dir": str(out_dir / "data")}}
    )
    loaded = load_plugins(
        settings,
        extra=[("journal", journal_plugin), ("daily_report", reporter)],
        plugin_table={},
    )
    bot = Bot(settings, loaded, clock=clock)
    await bot.start()
    try:
        loop = asyncio.get_running_loop()
        missed = 0
        wakeups = 0
        longest = 0.0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal missed, wakeups, longest
            while not stop.is_set():
                before = loop.time()
                await asyncio.sleep(TICK)
                late = loop.time() - before - TICK
                wakeups += 1
                longest = max(longest, late)
                missed += max(0, int(late // TICK))

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        missed = wakeups = 0
        longest = 0.0
        peak_before = rss_peak_mb()
        started = time.perf_counter()
        report = await reporter.write(DAY)
        wall = time.perf_counter() - started
        stop.set()
        await task
        return {
            "trades": report.summary["trades"],
            "wall_s": round(wall, 3),
            "wakeups": wakeups,
            "missed_wakeups": missed,
            "longest_block_ms": round(longest * 1000, 1),
            "peak_rss_growth_mb": round(rss_peak_mb() - peak_before, 1),
            "peak_rss_mb": round(rss_peak_mb(), 1),
        }
    finally:
        await bot.stop()


def child(args: argparse.Namespace) -> None:
    """Run one measurement in this process (the variant's tree is first on ``sys.path``)."""
    sys.path.insert(0, args.tree)
    from loguru import logger

    logger.remove()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        result = runner.run(measure(Path(args.journal), Path(args.out)))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fills", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--journal", help="reuse this generated journal")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=TREE")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", default=str(ROOT), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(args.journal) if args.journal else Path(tmp) / "journal.sqlite3"
        if not journal.exists():
            asyncio.run(generate(journal, args.fills))
        variants = {"tradeloop": str(ROOT)}
        variants.update(dict(c.split("=", 1) for c in args.compare))
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        for rep in range(args.reps):
            for name, tree in variants.items():
                out = Path(tmp) / f"{name}-{rep}"
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        "--tree",
                        tree,
                        "--journal",
                        str(journal),
                        "--out",
                        str(out),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "PYTHONPATH": tree},
                    cwd=tree,
                )
                runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
        medians = {
            name: {key: statistics.median(r[key] for r in rs) for key in rs[0] if key != "trades"}
            for name, rs in runs.items()
        }
        print(
            json.dumps(
                {
                    "fills": args.fills,
                    "journal_mb": round(journal.stat().st_size / 2**20, 1),
                    "tick_ms": TICK * 1000,
                    "medians": medians,
                    "runs": runs,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
