"""In-process cost of the flight recorder on the connector's handlers (no sockets).

Runs the harness's 1,024 messages through ``MarketStream.handle`` (bookTicker) and
``UserDataStream.handle`` (ACCOUNT_UPDATE, into a dict sink) ``--rounds`` times, plain and
through the recorder's tap as the connector wraps it (``StreamRunner.add_tap``), alternating,
with the recorder's writer thread writing meanwhile. Prints JSON per mode: the best loop-thread
CPU µs per message (``time.thread_time``: what the loop pays) plain and recorded, and the
process CPU (``time.process_time``: the writer thread's encoding and compression included).

    PEERS_DIR=/work/shared/bench/peers .venv/bin/python benchmarks/bench_record_handle.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(os.environ.get("PEERS_DIR", ROOT.parent / "shared" / "bench" / "peers"))
for _path in (str(ROOT), str(PEERS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)


def best(run: Callable[[], None], clock: Callable[[], float], n: int, rounds: int) -> float:
    """The best µs per message of ``rounds`` runs of ``run`` (``n`` messages each)."""
    out = float("inf")
    for _ in range(rounds):
        start = clock()
        run()
        out = min(out, (clock() - start) / n * 1e6)
    return out


async def measure(mode: str, rounds: int, alternations: int) -> dict[str, Any]:
    from msgs import make_payload_tails  # the harness's own messages

    from benchmarks.peers_tradeloop import start_recorder
    from framework.types import Balance, Fill, Order, Position
    from plugins.binance import Endpoints
    from plugins.binance.config import BinanceConfig
    from plugins.binance.counters import EventCounters
    from plugins.binance.ids import ClientOrderIds
    from plugins.binance.market_stream import MarketStream
    from plugins.binance.orders import OrderService
    from plugins.binance.rest import RestClient
    from plugins.binance.signing import HmacSigner
    from plugins.binance.user_stream import UserDataStream
    from plugins.binance.ws import StreamRunner

    class DictSink:
        def __init__(self) -> None:
            self.balances: dict[str, Balance] = {}
            self.positions: dict[tuple[str, str], Position] = {}

        def apply_balance(self, b: Balance) -> bool:
            self.balances[b.asset] = b
            return True

        def apply_position(self, p: Position) -> bool:
            self.positions[(p.symbol, p.side)] = p
            return True

        def apply_order(self, o: Order) -> bool:
            return True

        def apply_fill(self, f: Fill) -> bool:
            return True

        def begin_event(self) -> None:
            pass

        def end_event(self) -> None:
            pass

    messages = [b'{"st":1234567890123456789,' + t[1:] for t in make_payload_tails(mode)]
    config = BinanceConfig(max_event_ahead=86400)
    endpoints = Endpoints("http://127.0.0.1:1", "ws://127.0.0.1:1", False)
    counters = EventCounters()
    last: dict[str, Any] = {}
    directory = tempfile.mkdtemp(prefix="tradeloop-bench-record-")
    async with aiohttp.ClientSession() as session:
        if mode == "account":
            rest = RestClient(
                base_url=endpoints.rest_url, api_key="k", signer=HmacSigner("s"), config=config
            )
            rest._session = session  # no REST call is made (as in peers_tradeloop.py)
            user = UserDataStream(
                rest=rest,
                endpoints=endpoints,
                config=config,
                sink=DictSink(),
                orders=OrderService(
                    rest, ClientOrderIds(), resolve_attempts=1, not_found_spacing=1.0
                ),
                counters=counters,
                on_state=lambda *_: None,
            )
            handle, stream = user.handle, "user_data"
        else:
            market = MarketStream(
                session=session,
                endpoints=endpoints,
                streams=[],
                config=config,
                emit=lambda tick: None,
                counters=counters,
                on_state=lambda *_: None,
                last=last,
                combined=False,
            )
            handle, stream = market.handle, "market"
        recorder = start_recorder(directory)
        runner = StreamRunner(
            name=stream,
            session=session,
            url=lambda: asyncio.sleep(0, ""),
            on_message=handle,
            on_state=lambda *_: None,
            config=config,
        )
        runner.add_tap(recorder.stream_frames(stream))
        tapped = runner._on_message

        def plain() -> None:
            last.clear()
            for data in messages:
                handle(data)

        def recorded() -> None:
            last.clear()
            for data in messages:
                tapped(data)

        n = len(messages)
        rows: dict[str, list[float]] = {k: [] for k in ("plain", "recorded")}
        cpu: dict[str, list[float]] = {k: [] for k in ("plain", "recorded")}
        for _ in range(alternations):
            for name, run in (("plain", plain), ("recorded", recorded)):
                rows[name].append(best(run, time.thread_time, n, rounds))
                cpu[name].append(best(run, time.process_time, n, rounds))
                await asyncio.sleep(2 * recorder.config.flush_interval)  # the writer writes
        await asyncio.to_thread(recorder.close)
    if counters.malformed or counters.unknown or counters.rejected:
        raise RuntimeError(f"bad messages: {counters}")
    loop_plain, loop_rec = min(rows["plain"]), min(rows["recorded"])
    proc_plain, proc_rec = min(cpu["plain"]), min(cpu["recorded"])
    return {
        "loop_thread_us_per_msg": {"plain": round(loop_plain, 3), "recorded": round(loop_rec, 3)},
        "loop_thread_cost": round(loop_rec / loop_plain - 1, 3),
        "process_us_per_msg": {"plain": round(proc_plain, 3), "recorded": round(proc_rec, 3)},
        "process_cost": round(proc_rec / proc_plain - 1, 3),
        "recorded_frames": recorder.stats.frames,
        "bytes_per_frame": round(recorder.stats.bytes_written / max(1, recorder.stats.frames), 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=50, help="runs of the 1,024 messages per best")
    p.add_argument("--alternations", type=int, default=3)
    p.add_argument("--modes", default="bookTicker,account")
    args = p.parse_args()
    out = {
        mode: asyncio.run(measure(mode, args.rounds, args.alternations))
        for mode in args.modes.split(",")
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
