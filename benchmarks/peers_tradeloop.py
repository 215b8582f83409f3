"""tradeloop as one more consumer of the peers' harness (``../shared/bench/peers``).

Takes the harness's own flags (``common.parser()``: ``--url --n --mode --rate --loop --label
--tag --gc``), connects to ``common.url_for(args)``, consumes ``--n`` messages and prints the
harness's JSON line (``common.Stats.emit``), so it sits in the same tables as ``aiohttp_cache.py``
(the reference) and ``peer_python_binance.py``. What it runs is the connector's own hot path:

* ``StreamRunner`` (aiohttp receive loop with ping handling) ->
* ``UserDataStream.handle`` (ACCOUNT_UPDATE: typed msgspec decode, money to ``Decimal``, one
  ``framework.types.Balance``/``Position`` per entry, applied to the sink) or
  ``MarketStream.handle`` (bookTicker -> ``Tick``, latest tick per symbol) ->
* one hook through the core's ``HookBus`` to one no-op plugin (bookTicker: through
  ``ctx.hooks.on_tick``, the bot's own emitter, with its stale-tick check).

``--sink dict`` (default) is the reference's shape: a dict cache, then one hook per message.
``--sink cache`` is the bot's own wiring: a ``BotContext`` (its ``AccountCache`` and ``Hooks``)
on the same ``HookBus``; the cache orders by event time, drops duplicates and emits one
``on_balance_update``/``on_position_update`` per changed entry (10 per message on the harness's
stream, where every entry changes).

The harness's server repeats ``--cycle`` (its ``--k``, 1,024) distinct messages, event time
``E`` and bookTicker update id ``u`` included, so from the second round on every entry would
be older than what the connector holds and be dropped (no hook): ACCOUNT_UPDATE entries as
stale by the ``AccountCache``, bookTickers as out of order by ``MarketStream`` (it keeps the
last tick per symbol and drops an update id it has already passed). The consumer therefore
forgets that state at the start of each round (a fresh ``AccountCache`` with the same
``Hooks``; an empty last-tick map): every message is applied and announced, as a live
stream's would be. The JSON line reports ``hooks_per_msg`` (hooks the bus delivered per
message) so the work done is visible.

Standalone (server from the harness running on port 8765)::

    .venv/bin/python benchmarks/peers_tradeloop.py --n 200000 --mode account --loop uvloop

In the harness's ``run_all.sh`` (which runs ``"$PY" script args --url .. --loop .. --label ..
--tag ..``), with ``PY=/path/to/tradeloop/.venv/bin/python``, add
``"tradeloop|/path/to/tradeloop/benchmarks/peers_tradeloop.py"`` to ``ACCOUNT`` and ``BOOK``.
``benchmarks/bench_hot_path.py`` runs it, the reference and python-binance interleaved.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("PEERS_DIR", ROOT.parent / "shared" / "bench" / "peers"))
for _path in (str(ROOT), str(PEERS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import common  # noqa: E402 - the peers' harness module, found through PEERS


async def consume(args: Any, extra: dict[str, Any]) -> Any:
    """Run the connector's hot path on ``args.n`` messages; return the harness's ``Stats``.

    ``extra`` receives ``hooks_per_msg``: hooks the bus delivered per message.
    """
    import aiohttp

    from framework.bus import HookBus
    from framework.cache import AccountCache
    from framework.clock import SystemClock
    from framework.context import BotContext
    from framework.hookspecs import hookimpl
    from framework.loader import new_plugin_manager
    from framework.scheduler import Scheduler
    from framework.settings import RuntimeSettings, Settings
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
    clock = SystemClock()
    # The bot's own context: its AccountCache announces changes through its Hooks to the bus.
    # The server stamps its messages once at start: a bound that never drops them as stale
    # (the age is still checked per tick, as in the bot).
    settings = Settings(runtime=RuntimeSettings(max_tick_age=3600))
    ctx = BotContext(
        settings=settings, clock=clock, bus=bus, scheduler=Scheduler(clock), plugin_configs={}
    )
    bus.bind(ctx)

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

        def begin_event(self) -> None:
            pass

        def end_event(self) -> None:
            pass

    def on_state(s: StreamState, reason: str, resync: bool) -> None:
        pass

    n = args.n
    st = common.Stats()
    lat = st.lat
    append = lat.append
    tns = time.time_ns
    done = asyncio.Event()
    config = BinanceConfig(stale_after=600, ping_interval=600, market_silence_after=0)
    endpoints = Endpoints("http://127.0.0.1:1", "ws://127.0.0.1:1", False)
    counters = EventCounters()

    async with aiohttp.ClientSession() as session:
        if args.mode == "account":
            rest = RestClient(
                base_url=endpoints.rest_url, api_key="k", signer=HmacSigner("s"), config=config
            )
            rest._session = session  # no REST call is made; the handler only needs the object
            sink = ctx._account if args.sink == "cache" else DictSink()
            user = UserDataStream(
                rest=rest,
                endpoints=endpoints,
                config=config,
                sink=sink,
                orders=OrderService(
                    rest, ClientOrderIds(), resolve_attempts=1, not_found_spacing=1.0
                ),
                counters=counters,
                on_state=on_state,
            )
            handle = user.handle
            user_handle = handle
            if isinstance(sink, DictSink):
                balances = sink.balances

                def handle(data: bytes) -> None:
                    user_handle(data)
                    notify("on_balance_update", (ctx, None, balances["USDT"]))
            else:
                cycle, seen = args.cycle, 0

                def handle(data: bytes) -> None:
                    nonlocal seen
                    if seen % cycle == 0:  # a new round of the server's messages, see above
                        user.sink = AccountCache(ctx.hooks)
                    seen += 1
                    user_handle(data)
        else:
            emit = ctx.hooks.on_tick  # the bot's emitter: stale-tick check, last tick, hook

            last: dict[str, Tick] = {}
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
            market_handle, cycle, seen = market.handle, args.cycle, 0

            def handle(data: bytes) -> None:
                nonlocal seen
                if seen % cycle == 0:  # a new round of the server's messages, see above
                    last.clear()
                seen += 1
                market_handle(data)

        def on_message(data: bytes) -> None:
            # The harness's messages start with {"st":<19-digit send time, ns>; its final
            # {"e":"END"} frame can arrive after the n-th message and is not a message.
            if data[2] == 101:  # "e"
                return
            handle(data)
            append(tns() - int(data[6:25]))
            k = len(lat)
            if k == 1:
                st.start()
            elif k == n:
                st.stop(n)
                done.set()

        async def url() -> str:
            return str(common.url_for(args))

        runner = StreamRunner(
            name="bench",
            session=session,
            url=url,
            on_message=on_message,
            on_state=on_state,
            config=config,
            rng=random.Random(1),
        )
        recorder = None
        if args.record:  # the flight recorder's tap, as the connector adds it (docs/replay.md)
            recorder = start_recorder(args.record, args.record_settings)
            runner.add_tap(
                recorder.stream_frames("user_data" if args.mode == "account" else "market")
            )
        task = asyncio.get_running_loop().create_task(runner.run())
        scraper = None
        if args.scrape > 0:  # the http plugin's /metrics rendered on this loop, as Prometheus would
            scraper = asyncio.get_running_loop().create_task(scrape_every(args.scrape, ctx, extra))
        await done.wait()
        task.cancel()
        if scraper is not None:
            scraper.cancel()
        await asyncio.gather(task, *([scraper] if scraper else []), return_exceptions=True)
        await runner.stop()
        if recorder is not None:
            await asyncio.to_thread(recorder.close)
            extra["recorded_bytes"] = recorder.stats.bytes_written
            extra["recorded_frames"] = recorder.stats.frames
            extra["recorder_overflows"] = recorder.stats.overflows
            # the writer thread's CPU per frame, the whole run (its catching up at close too)
            extra["recorder_cpu_us_per_frame"] = round(
                recorder.stats.writer_cpu / max(1, recorder.stats.frames) * 1e6, 3
            )
            extra["recorder_stored_blocks"] = recorder.stats.stored_blocks
            extra["recorder_blocks"] = recorder.stats.blocks
    if counters.malformed or counters.unknown or counters.dispatch_errors:
        raise RuntimeError(f"bad messages: {counters}")
    extra["hooks_per_msg"] = round(sum(bus.counts.values()) / max(1, n), 2)
    return st


def start_recorder(directory: str, overrides: str = "") -> Any:
    """The ``recorder`` plugin's ``Recorder`` with its default settings (and the JSON object
    ``overrides`` over them), writing to ``directory`` (its writer thread started)."""
    import msgspec

    from plugins.recorder.recorder import Recorder
    from plugins.recorder.settings import RecorderSettings

    config = msgspec.convert(msgspec.json.decode(overrides or "{}"), RecorderSettings)
    recorder = Recorder(
        config,
        Path(directory),
        clock=None,  # the bot's SystemClock
        settings={},
        version="bench",
    )
    recorder.start()
    return recorder


async def scrape_every(seconds: float, ctx: Any, extra: dict[str, Any]) -> None:
    """Render the ``http`` plugin's ``/metrics`` every ``seconds`` (counted in ``extra``)."""
    from plugins.http.health import health_reasons, ready_reasons
    from plugins.http.metrics import BotCollector, registry_for, render
    from plugins.http.settings import HttpSettings
    from plugins.http.state import Observed

    observed, config, started = Observed(100), HttpSettings(), ctx.clock.time()
    collector = BotCollector(
        ctx,
        observed,
        healthy=lambda: not health_reasons(ctx, observed, config, ctx.clock.time(), started),
        ready=lambda: not ready_reasons(ctx),
    )
    registry = registry_for(collector)
    extra["scrapes"], extra["scrape_ms"], extra["scrape_cpu_ms"] = 0, 0.0, 0.0
    while True:
        await asyncio.sleep(seconds)
        t0, c0 = time.perf_counter(), time.process_time()
        render(registry)
        extra["scrape_cpu_ms"] = round(extra["scrape_cpu_ms"] + (time.process_time() - c0) * 1e3, 3)
        extra["scrape_ms"] = round(extra["scrape_ms"] + (time.perf_counter() - t0) * 1000, 3)
        extra["scrapes"] += 1


def main() -> None:
    """Parse the harness's flags, run, print one JSON line."""
    import aiohttp
    import msgspec

    p = common.parser(__doc__)
    p.add_argument("--sink", default="dict", choices=("dict", "cache"))
    p.add_argument(
        "--cycle", type=int, default=1024, help="distinct messages the server repeats (its --k)"
    )
    p.add_argument(
        "--scrape", type=float, default=0.0, help="render /metrics every this many seconds"
    )
    p.add_argument(
        "--record",
        default="",
        metavar="DIR",
        help="also record every frame with the flight recorder, into DIR",
    )
    p.add_argument(
        "--record-settings",
        default="",
        metavar="JSON",
        help="the recorder's settings over its defaults, e.g. '{\"compress_budget\": 1}'",
    )
    args = p.parse_args()
    extra: dict[str, Any] = {"sink": args.sink}
    st = common.run(lambda: consume(args, extra), args)
    extra.update(msgspec=msgspec.__version__, aiohttp=aiohttp.__version__)
    label = "tradeloop" + ("_account_cache" if args.sink == "cache" else "")
    suffix = ("_scraped" if args.scrape > 0 else "") + ("_recording" if args.record else "")
    st.emit(args, label + suffix, extra)


if __name__ == "__main__":
    main()
