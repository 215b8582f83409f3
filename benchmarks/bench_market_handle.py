"""In-process CPU of ``MarketStream.handle`` on the harness's bookTicker messages.

Decodes, checks and emits (to a list) the peers harness's 1,024 bookTicker messages, ``--rounds``
times, and prints JSON with the best CPU µs per message. Run it from two trees to compare
them in one sitting (no sockets, so far less noise than ``bench_hot_path.py``)::

    PEERS_DIR=/work/shared/bench/peers .venv/bin/python benchmarks/bench_market_handle.py
    PEERS_DIR=/work/shared/bench/peers PYTHONPATH=/tmp/before \\
        .venv/bin/python /tmp/before/benchmarks/bench_market_handle.py   # if it has one
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(os.environ.get("PEERS_DIR", ROOT.parent / "shared" / "bench" / "peers"))


async def measure(rounds: int) -> dict[str, Any]:
    sys.path.insert(0, str(PEERS))
    from msgs import make_payload_tails  # the harness's own messages

    from plugins.binance import Endpoints
    from plugins.binance.config import BinanceConfig
    from plugins.binance.counters import EventCounters
    from plugins.binance.market_stream import MarketStream

    # the harness prefixes each message with its send time: {"st":<ns>,...}
    messages = [b'{"st":1234567890123456789' + t for t in make_payload_tails("bookTicker")]
    delivered: list[Any] = []
    last: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        market = MarketStream(
            session=session,
            endpoints=Endpoints("http://127.0.0.1:1", "ws://127.0.0.1:1", False),
            streams=[],
            config=BinanceConfig(),
            emit=delivered.append,
            counters=EventCounters(),
            on_state=lambda *_: None,
            last=last,
            combined=False,
        )
        handle, best = market.handle, float("inf")
        for _ in range(rounds):
            last.clear()  # every message is new again (see peers_tradeloop.py)
            delivered.clear()
            start = time.process_time()
            for data in messages:
                handle(data)
            best = min(best, (time.process_time() - start) / len(messages) * 1e6)
    return {"cpu_us_per_msg": round(best, 3), "delivered": len(delivered), "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    print(orjson.dumps(asyncio.run(measure(args.rounds))).decode())


if __name__ == "__main__":
    main()
