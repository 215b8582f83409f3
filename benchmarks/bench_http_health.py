"""Latency of the ``http`` plugin's ``/health`` while the bot is busy.

A real bot (binance connector, reconciliation, the ``http`` plugin) runs on the simulator over
loopback, with prices moving ``--updates`` times a second per symbol; ``--clients`` concurrent
clients ask ``/health`` ``--requests`` times in all while ``/metrics`` is scraped every second.
Client and bot share one process and one event loop (the bot's), so a figure includes the
client's own work: an upper bound. Prints JSON: p50/p99/max in milliseconds.

Usage: ``.venv/bin/python benchmarks/bench_http_health.py --requests 2000 --clients 4``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp
    from loguru import logger

    from framework.loader import load_plugins
    from framework.runtime import Bot
    from framework.settings import load_settings
    from plugins.binance import BinancePlugin
    from plugins.http import HttpPlugin, HttpSettings
    from plugins.reconciliation import ReconciliationPlugin
    from plugins.sim.exchange import SimExchange
    from plugins.sim.testing import fast_binance_config, sim_settings

    logger.remove()
    sim = SimExchange(sim_settings(updates_per_second=args.updates, ping_interval=5.0))
    await sim.start("127.0.0.1", 0)
    http = HttpPlugin(HttpSettings(port=0))
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(
            use_files=False,
            overrides={
                "exchange": {
                    "name": "sim",
                    "rest_url": sim.rest_url,
                    "stream_url": sim.ws_url,
                    "api_key": sim.settings.api_key,
                    "api_secret": sim.settings.api_secret,
                    "symbols": list(sim.settings.symbols),
                },
                "runtime": {"data_dir": data_dir},
            },
        )
        plugins = {
            "binance": BinancePlugin(fast_binance_config(stale_after=30.0)),
            "reconciliation": ReconciliationPlugin(),
            "http": http,
        }
        bot = Bot(settings, load_plugins(settings, extra=list(plugins.items()), plugin_table={}))
        await bot.start()
        try:
            base = f"http://127.0.0.1:{http.port}"
            latencies: list[float] = []
            statuses: dict[int, int] = {}
            per_client = args.requests // args.clients
            async with aiohttp.ClientSession() as session:
                await asyncio.sleep(1.0)  # streams up, startup reconcile done

                async def scrape() -> None:
                    while True:
                        async with session.get(base + "/metrics") as resp:
                            await resp.read()
                        await asyncio.sleep(1.0)

                async def client() -> None:
                    for _ in range(per_client):
                        t0 = time.perf_counter()
                        async with session.get(base + "/health") as resp:
                            await resp.read()
                        latencies.append(time.perf_counter() - t0)
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1

                scraper = asyncio.create_task(scrape())
                ticks0 = bot.bus.counts.get("on_tick", 0)
                t0 = time.perf_counter()
                await asyncio.gather(*(client() for _ in range(args.clients)))
                elapsed = time.perf_counter() - t0
                ticks = bot.bus.counts.get("on_tick", 0) - ticks0
                scraper.cancel()
                await asyncio.gather(scraper, return_exceptions=True)
        finally:
            await bot.stop()
            await sim.stop()
    ms = sorted(x * 1000 for x in latencies)
    return {
        "requests": len(ms),
        "clients": args.clients,
        "statuses": statuses,
        "ticks_per_s_during": round(ticks / elapsed, 1),
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 3),
        "max_ms": round(ms[-1], 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--updates", type=float, default=200.0, help="price updates/s per symbol")
    args = p.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
