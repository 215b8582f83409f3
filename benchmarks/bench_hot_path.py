"""Hot-path benchmark: socket -> decode -> cache update -> one hook, against the reference shape.

Both consumers read the same WebSocket server in the same run, interleaved (A B A B ...):

* ``reference``: ``../shared/bench/peers/aiohttp_cache.py`` (aiohttp receive + orjson + dict cache
  update + one pluggy hook).
* ``tradeloop``: the connector's own code: ``StreamRunner`` (aiohttp receive loop with ping
  handling), ``UserDataStream.handle`` / ``MarketStream.handle`` (msgspec typed decode to
  ``framework.types``, the sink or the tick cache), and one hook through the core's ``HookBus``
  to one no-op plugin. ACCOUNT_UPDATE goes into a dict sink (``apply_balance``/
  ``apply_position``); ``--account-cache`` uses ``framework.cache.AccountCache`` instead, which
  emits one hook per changed entry (10 per message here) rather than one per message.

The server is the reference harness's ``server.py`` (one process, pre-built Binance-format
frames, ``"st"`` send-time stamp first). Throughput runs are firehose; latency runs are paced at
``--rate`` msgs/s. python-binance is not installed here: its figure is derived from the peers
run (``results.md``: 24,338 ACCOUNT_UPDATE/s and 36,012 bookTicker/s on asyncio, i.e. 0.183 and
0.113 of the reference measured in that run), scaled by the reference measured now.

Usage: ``.venv/bin/python benchmarks/bench_hot_path.py [--n 200000] [--reps 3]``; prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PEERS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "peers"
# python-binance / reference (aiohttp_cache), asyncio, from the peers run (results.md).
PYTHON_BINANCE_RATIO = {"account": 24_338 / 132_969, "bookTicker": 36_012 / 317_297}


# ------------------------------------------------------------------------ the consumer


async def consume(url: str, n: int, mode: str, account_cache: bool) -> dict[str, Any]:
    """Run the connector's hot path on ``n`` messages; return the same fields as the peers."""
    import random

    import aiohttp

    from framework.bus import HookBus
    from framework.cache import AccountCache
    from framework.hookspecs import hookimpl
    from framework.loader import new_plugin_manager
    from framework.types import Balance, Fill, Order, Position, StreamState, Tick
    from plugins.binance.config import BinanceConfig, Endpoints
    from plugins.binance.counters import EventCounters
    from plugins.binance.ids import ClientOrderIds
    from plugins.binance.market_stream import MarketStream
    from plugins.binance.orders import OrderService
    from plugins.binance.rest import RestClient
    from plugins.binance.signing import HmacSigner
    from plugins.binance.user_stream import UserDataStream
    from plugins.binance.ws import StreamRunner

    class Noop:
        @hookimpl
        def on_tick(self, tick: Tick) -> None:
            pass

        @hookimpl
        def on_balance_update(self, before: Balance | None, after: Balance) -> None:
            pass

        @hookimpl
        def on_position_update(self, before: Position | None, after: Position) -> None:
            pass

    pm = new_plugin_manager()
    pm.register(Noop(), name="noop")
    bus = HookBus(pm)
    notify = bus.notify
    ctx = None

    class DictSink:
        """Dict cache like the reference's; the consumer fires one hook per message."""

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

    class Listener:
        def on_balance_update(self, before: Balance | None, after: Balance) -> None:
            notify("on_balance_update", (ctx, before, after))

        def on_position_update(self, before: Position | None, after: Position) -> None:
            notify("on_position_update", (ctx, before, after))

        def on_order_update(self, before: Order | None, after: Order) -> None:
            pass

        def on_fill(self, fill: Fill) -> None:
            pass

    config = BinanceConfig(stale_after=600, ping_interval=600, market_silence_after=0)
    endpoints = Endpoints("http://127.0.0.1:1", "ws://127.0.0.1:1", False)
    counters = EventCounters()
    lat: list[int] = []
    state = {"count": 0, "t0": 0.0, "c0": 0.0}
    done = asyncio.Event()
    tns = time.time_ns

    def on_state(s: StreamState, reason: str, resync: bool) -> None:
        pass

    async with aiohttp.ClientSession() as session:
        if mode == "account":
            rest = RestClient(
                base_url=endpoints.rest_url, api_key="k", signer=HmacSigner("s"), config=config
            )
            rest._session = session  # no REST call is made; the handler only needs the object
            sink = AccountCache(Listener()) if account_cache else DictSink()
            user = UserDataStream(
                rest=rest,
                endpoints=endpoints,
                config=config,
                sink=sink,
                orders=OrderService(rest, ClientOrderIds(), resolve_attempts=1),
                counters=counters,
                on_state=on_state,
            )
            handle = user.handle
            if not account_cache:
                inner = handle
                balances = sink.balances  # type: ignore[union-attr]

                def handle(data: bytes) -> None:
                    inner(data)
                    notify("on_balance_update", (ctx, None, balances["USDT"]))
        else:
            last: dict[str, Tick] = {}

            def emit(tick: Tick) -> None:
                notify("on_tick", (ctx, tick))

            market = MarketStream(
                session=session,
                endpoints=endpoints,
                streams=[],
                config=config,
                emit=emit,
                counters=counters,
                on_state=on_state,
                last=last,
                combined=False,
            )
            handle = market.handle
        append = lat.append

        def on_message(data: bytes) -> None:
            if data[2] == 101 and data.startswith(b'{"e":"END"'):
                return
            handle(data)
            append(tns() - int(data[6:25]))
            count = state["count"] + 1
            state["count"] = count
            if count == 1:
                state["t0"], state["c0"] = time.perf_counter(), time.process_time()
            elif count == n:
                state["t1"], state["c1"] = time.perf_counter(), time.process_time()
                done.set()

        async def url_() -> str:
            return url

        runner = StreamRunner(
            name="bench",
            session=session,
            url=url_,
            on_message=on_message,
            on_state=on_state,
            config=config,
            rng=random.Random(1),
        )
        task = asyncio.get_running_loop().create_task(runner.run())
        await done.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.stop()
    if counters.malformed or counters.dispatch_errors:
        raise RuntimeError(f"bad messages: {counters}")
    dt = state["t1"] - state["t0"]
    lat.sort()
    m = len(lat)
    return {
        "msgs_per_s": round((n - 1) / dt, 1),
        "cpu_us_per_msg": round((state["c1"] - state["c0"]) / (n - 1) * 1e6, 3),
        "p50_us": round(lat[m // 2] / 1000, 1),
        "p99_us": round(lat[min(m - 1, int(0.99 * m))] / 1000, 1),
        "n": n,
    }


# --------------------------------------------------------------------------- the driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def url_for(port: int, mode: str, n: int, rate: float) -> str:
    toks = f"mode={mode}/n={n}" + (f"/rate={rate:g}" if rate else "")
    return f"ws://127.0.0.1:{port}/{toks}/ws"


def run_reference(port: int, mode: str, n: int, rate: float, loop: str) -> dict[str, Any]:
    args = [
        sys.executable,
        "aiohttp_cache.py",
        "--url",
        f"ws://127.0.0.1:{port}/",
        "--n",
        str(n),
        "--mode",
        mode,
        "--loop",
        loop,
    ]
    if rate:
        args += ["--rate", str(rate)]
    out = subprocess.run(args, cwd=PEERS, capture_output=True, text=True, check=True, timeout=300)
    line = json.loads(out.stdout.strip().splitlines()[-1])
    return {k: line[k] for k in ("msgs_per_s", "cpu_us_per_msg", "p50_us", "p99_us", "n")}


def run_tradeloop(
    port: int, mode: str, n: int, rate: float, loop: str, cache: bool
) -> dict[str, Any]:
    args = [
        sys.executable,
        __file__,
        "--consumer",
        "--url",
        url_for(port, mode, n, rate),
        "--n",
        str(n),
        "--mode",
        mode,
        "--loop",
        loop,
    ]
    if cache:
        args.append("--account-cache")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        args,
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def median_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        k: round(statistics.median(r[k] for r in rows), 1)
        for k in ("msgs_per_s", "cpu_us_per_msg", "p50_us", "p99_us")
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--paced-n", type=int, default=20_000)
    p.add_argument("--rate", type=float, default=10_000.0)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--loop", default="uvloop", choices=("asyncio", "uvloop"))
    p.add_argument("--consumer", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--account-cache", action="store_true")
    p.add_argument("--url", default="")
    p.add_argument("--mode", default="account")
    args = p.parse_args()
    if args.consumer:
        if args.loop == "uvloop":
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        else:
            runner = asyncio.Runner()
        with runner:
            print(json.dumps(runner.run(consume(args.url, args.n, args.mode, args.account_cache))))
        return

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "server.py", "--port", str(port), "--linger", "1"],
        cwd=PEERS,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        report: dict[str, Any] = {
            "loop": args.loop,
            "reps": args.reps,
            "n": args.n,
            "paced_rate": args.rate,
            "results": {},
        }
        for mode in ("account", "bookTicker"):
            consumers = ["reference", "tradeloop"] + (
                ["tradeloop_account_cache"] if mode == "account" else []
            )
            for kind, n, rate in (("firehose", args.n, 0.0), ("paced", args.paced_n, args.rate)):
                rows: dict[str, list[dict[str, Any]]] = {c: [] for c in consumers}
                for _ in range(args.reps):
                    for c in consumers:
                        if c == "reference":
                            rows[c].append(run_reference(port, mode, n, rate, args.loop))
                        else:
                            rows[c].append(
                                run_tradeloop(
                                    port, mode, n, rate, args.loop, c == "tradeloop_account_cache"
                                )
                            )
                med = {c: median_of(r) for c, r in rows.items()}
                ref = med["reference"]["msgs_per_s"]
                entry: dict[str, Any] = {"median": med, "runs": rows}
                if kind == "firehose":
                    pb = ref * PYTHON_BINANCE_RATIO[mode]
                    entry["python_binance_estimated_msgs_per_s"] = round(pb)
                    entry["ratios"] = {
                        c: {
                            "vs_reference": round(med[c]["msgs_per_s"] / ref, 3),
                            "vs_python_binance": round(med[c]["msgs_per_s"] / pb, 2),
                        }
                        for c in consumers
                        if c != "reference"
                    }
                report["results"][f"{mode}/{kind}"] = entry
        print(json.dumps(report, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
