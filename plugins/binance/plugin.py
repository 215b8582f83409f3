"""``BinancePlugin``: settings, lifespan (embedded simulator or Binance), connector, summary."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import msgspec
from loguru import logger

from framework import BotContext, Settings, SettingsError, hookimpl
from framework.types import StreamStatus, Tick

from .config import BinanceConfig, Endpoints, resolve_endpoints
from .connector import BinanceConnector
from .signing import mask_key
from .sink import AccountSink, HookSink

LOOPBACK = "127.0.0.1"


def subscribed_symbols(ctx: BotContext) -> list[str]:
    """``exchange.symbols`` plus what enabled strategies subscribe to.

    A strategy subscribes with ``params.symbols`` (a list) or ``params.symbol`` (one name) in its
    settings, or with a ``symbols`` attribute on its object.
    """
    out: dict[str, None] = dict.fromkeys(s.upper() for s in ctx.settings.exchange.symbols)
    for strategy in ctx.settings.strategies:
        if not strategy.enabled:
            continue
        wanted: list[Any] = []
        params = strategy.params
        if isinstance(params.get("symbols"), (list, tuple)):
            wanted.extend(params["symbols"])
        if isinstance(params.get("symbol"), str):
            wanted.append(params["symbol"])
        plugin = ctx.plugin(f"strategy:{strategy.id}")
        attr = getattr(plugin, "symbols", None)
        if isinstance(attr, (list, tuple, set, frozenset)):
            wanted.extend(attr)
        for symbol in wanted:
            if isinstance(symbol, str) and symbol:
                out.setdefault(symbol.upper(), None)
    return list(out)


class BinancePlugin:
    """The built-in exchange plugin: the embedded simulator or Binance USD-M futures."""

    def __init__(self, config: BinanceConfig | None = None) -> None:
        self.config = config or BinanceConfig()
        self.connector: BinanceConnector | None = None
        self.sim: Any = None

    @staticmethod
    @hookimpl
    def declare_settings() -> type:
        """``plugins.binance`` settings."""
        return BinanceConfig

    @hookimpl
    def validate_settings(self, settings: Settings) -> None:
        """Real Binance needs keys; the simulator brings its own demo keys."""
        exchange = settings.exchange
        if exchange.name == "binance_futures":
            for key in ("api_key", "api_secret"):
                if not getattr(exchange, key):
                    raise SettingsError(
                        f"exchange.{key}",
                        "",
                        "a value, from TRADELOOP_EXCHANGE__"
                        f"{key.upper()} or .secrets.yaml, when exchange.name is binance_futures",
                    )

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Start the simulator (if embedded) and the connector; stop both."""
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        exchange = ctx.settings.exchange
        symbols = subscribed_symbols(ctx)
        api_key, api_secret = exchange.api_key, exchange.api_secret
        if exchange.name == "sim":
            from plugins.sim import DEMO_API_KEY, DEMO_API_SECRET

            if exchange.rest_url:
                endpoints = Endpoints(
                    exchange.rest_url.rstrip("/"),
                    (exchange.stream_url or _ws_of(exchange.rest_url)).rstrip("/"),
                    bool(self.config.routed_streams),
                )
                api_key = api_key or DEMO_API_KEY
                api_secret = api_secret or DEMO_API_SECRET
            else:
                self.sim = await self._start_embedded_sim(ctx, symbols)
                endpoints = Endpoints(
                    self.sim.rest_url, self.sim.ws_url, self.config.routed_streams is not False
                )
                api_key = api_key or self.sim.settings.api_key
                api_secret = api_secret or self.sim.settings.api_secret
        else:
            endpoints = resolve_endpoints(exchange, self.config)
        logger.info(
            "binance connector: rest={} streams={} api_key={} symbols={}",
            endpoints.rest_url,
            endpoints.stream_url,
            mask_key(api_key),
            ",".join(symbols),
        )
        sink = account_sink(ctx)
        hooks = ctx.hooks

        def emit_tick(tick: Tick) -> None:
            hooks.on_tick(tick)

        def on_status(status: StreamStatus) -> None:
            hooks.on_stream_state(status)

        connector = BinanceConnector(
            endpoints=endpoints,
            api_key=api_key,
            api_secret=api_secret,
            config=self.config,
            symbols=symbols,
            sink=sink,
            emit_tick=emit_tick,
            on_status=on_status,
            wall_time=ctx.clock.time,
            # The clock the exchange runs on: the embedded simulator runs on the bot's clock
            # (a ManualClock in tests), anything else on real time.
            exchange_time=ctx.clock.time if self.sim is not None else time.time,
            recv_window_ms=exchange.recv_window_ms,
            spawn=lambda coro, name: ctx.spawn(coro, name=name, owner="binance"),
            id_state_file=Path(ctx.settings.runtime.data_dir) / "binance" / "client_order_ids.json",
        )
        self.connector = connector
        try:
            await connector.start()
            yield
        finally:
            await connector.close()
            if self.sim is not None:
                await self.sim.stop()
                self.sim = None

    async def _start_embedded_sim(self, ctx: BotContext, symbols: list[str]) -> Any:
        from plugins.sim import SimExchange, parse_sim_settings
        from plugins.sim.symbols import SYMBOL_CATALOGUE

        raw: dict[str, Any] = dict(ctx.settings.sim)
        if "symbols" not in raw:
            listed = [s for s in symbols if s in SYMBOL_CATALOGUE]
            if listed:
                raw["symbols"] = listed
        settings = parse_sim_settings(raw)
        sim = SimExchange(settings, clock=ctx.clock.time)
        await sim.start(LOOPBACK, 0)
        logger.info("embedded simulator on {}", sim.rest_url)
        return sim

    @hookimpl(trylast=True)
    def provide_exchange(self, ctx: BotContext) -> BinanceConnector | None:
        """The connector started in ``lifespan``."""
        return self.connector

    @hookimpl
    def summarize_run(self, ctx: BotContext) -> Mapping[str, Any] | None:
        """``stream``, ``events``, ``rest`` and ``order_api`` sections."""
        if self.connector is None:
            return None
        return dict(self.connector.stats())


def account_sink(ctx: BotContext) -> AccountSink:
    """The core's writable account cache (``ctx.account``), or a hook-only stand-in."""
    for name in ("account", "cache"):
        candidate = getattr(ctx, name, None)
        if isinstance(candidate, AccountSink):
            return candidate
    return HookSink(ctx.hooks)


def _ws_of(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


def config_from(raw: Mapping[str, Any]) -> BinanceConfig:
    """Validate a raw ``plugins.binance`` mapping (tests, tools)."""
    return msgspec.convert(dict(raw), BinanceConfig, strict=False)
