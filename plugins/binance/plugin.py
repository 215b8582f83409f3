"""``BinancePlugin``: settings, lifespan (the connector), connector, summary.

Where the exchange is: an endpoint another plugin published (``ctx.exchange_endpoint``, e.g. the
``sim`` plugin's simulator), else ``exchange.rest_url``/``stream_url``, else Binance's own URLs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import msgspec
from loguru import logger

from framework import BotContext, ExchangeEndpoint, Settings, SettingsError, hookimpl
from framework.types import Alert, ExchangeCheck, StreamState, StreamStatus

from .config import BinanceConfig, Endpoints, resolve_endpoints
from .signing import mask_key

if TYPE_CHECKING:  # imported in ``lifespan``: aiohttp stays out of ``--help`` and ``check``
    from .connector import BinanceConnector

LIVE = "binance_futures"
SIMULATED = "sim"
PAPER = "paper"  # the simulator's exchange on a venue's live prices (published by plugin sim)
EXCHANGE_NAMES = (SIMULATED, PAPER, LIVE)


class BinancePlugin:
    """The built-in exchange plugin: Binance USD-M futures, or a simulator speaking its wire."""

    def __init__(
        self,
        config: BinanceConfig | None = None,
        *,
        exchange_time: Callable[[], float] | None = None,
    ) -> None:
        """``exchange_time``: the clock the exchange runs on, when known (tests: a standalone
        simulator on a manual clock); else a providing plugin's clock, real time otherwise."""
        self.config = config or BinanceConfig()
        self._exchange_time = exchange_time
        self.connector: BinanceConnector | None = None

    @staticmethod
    @hookimpl
    def declare_settings() -> type:
        """``plugins.binance`` settings."""
        return BinanceConfig

    @hookimpl
    def validate_settings(self, settings: Settings) -> None:
        """``exchange.name`` is one this connector speaks; real Binance needs keys; a simulator
        needs somewhere to be (the ``sim`` plugin, or ``exchange.rest_url``)."""
        exchange = settings.exchange
        if exchange.name not in EXCHANGE_NAMES:
            raise SettingsError(
                "exchange.name",
                exchange.name,
                f"{SIMULATED} (a simulated exchange), {PAPER} (paper trading on live prices) or "
                f"{LIVE} (Binance USD-M futures), the names the binance connector speaks",
            )
        sim_block = settings.plugins.get(SIMULATED, {})
        if exchange.name == PAPER and sim_block.get("enabled") is False:
            raise SettingsError(
                "plugins.sim.enabled",
                False,
                f"true when exchange.name is {PAPER}: plugin sim runs the paper exchange",
            )
        if exchange.name == LIVE:
            for key in ("api_key", "api_secret"):
                if not getattr(exchange, key):
                    raise SettingsError(
                        f"exchange.{key}",
                        "",
                        "a value, from TRADELOOP_EXCHANGE__"
                        f"{key.upper()} or .secrets.yaml, when exchange.name is {LIVE}",
                    )
        if exchange.name == SIMULATED and sim_block.get("enabled") is False:
            if not exchange.rest_url:
                raise SettingsError(
                    "exchange.rest_url",
                    "",
                    "the URL of a running simulator (`tradeloop sim` prints it) when "
                    "plugins.sim.enabled is false; or plugins.sim.enabled: true to embed one",
                )
            for key in ("api_key", "api_secret"):
                if not getattr(exchange, key):
                    raise SettingsError(
                        f"exchange.{key}",
                        "",
                        f"the simulator's {key} (TRADELOOP_EXCHANGE__{key.upper()} or "
                        ".secrets.yaml) when plugins.sim.enabled is false",
                    )

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Start the connector; stop it."""
        return self._lifespan(ctx)

    def _where(self, ctx: BotContext) -> tuple[Endpoints, str, str, Callable[[], float]]:
        """Where the exchange is (a published endpoint, ``exchange.rest_url``, or Binance's
        own URLs), the key and secret to use, and the exchange's clock."""
        exchange = ctx.settings.exchange
        published = ctx.exchange_endpoint
        api_key, api_secret = exchange.api_key, exchange.api_secret
        exchange_time = self._exchange_time or time.time
        if exchange.name == PAPER:  # no keys are read: only the local paper exchange's own
            if published is None:
                raise SettingsError(
                    "plugins.sim.enabled", False, f"true when exchange.name is {PAPER}"
                )
            api_key, api_secret = published.api_key, published.api_secret
        if published is not None:
            endpoints = _endpoints_of(published, self.config)
            api_key = api_key or published.api_key
            api_secret = api_secret or published.api_secret
            exchange_time = self._exchange_time or published.clock or time.time
        elif exchange.name == SIMULATED:
            if not exchange.rest_url:
                raise SettingsError(
                    "exchange.rest_url",
                    "",
                    "the URL of a running simulator, or a plugin that runs one (sim)",
                )
            if not (api_key and api_secret):
                raise SettingsError(
                    "exchange.api_key",
                    "",
                    "the simulator's key and secret (exchange.api_key, exchange.api_secret) "
                    "when no plugin provides them",
                )
            endpoints = _endpoints_of(
                ExchangeEndpoint(exchange.rest_url, exchange.stream_url), self.config
            )
        else:
            endpoints = resolve_endpoints(exchange, self.config)
        return endpoints, api_key, api_secret, exchange_time

    @hookimpl
    async def check_exchange(self, ctx: BotContext) -> ExchangeCheck:
        """``tradeloop check --exchange``: signed read-only calls, no order."""
        from .exchange_check import check_exchange

        endpoints, api_key, api_secret, _ = self._where(ctx)
        return await check_exchange(
            endpoints=endpoints,
            api_key=api_key,
            api_secret=api_secret,
            config=self.config,
            symbols=list(ctx.subscribed_symbols()),
            recv_window_ms=ctx.settings.exchange.recv_window_ms,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        exchange = ctx.settings.exchange
        symbols = list(ctx.subscribed_symbols())
        published = ctx.exchange_endpoint
        endpoints, api_key, api_secret, exchange_time = self._where(ctx)
        logger.info(
            "binance connector: rest={} streams={} api_key={} symbols={}{}",
            endpoints.rest_url,
            endpoints.stream_url,
            mask_key(api_key),
            ",".join(symbols),
            f" (exchange from plugin {published.provider!r})" if published is not None else "",
        )
        sink = ctx.account_for(self)
        hooks = ctx.hooks

        def on_status(status: StreamStatus) -> None:
            if status.stream == "user_data":  # the cache's freshness (ctx.freshness())
                if status.state is StreamState.CONNECTED:
                    sink.stream_up()
                elif status.state in (StreamState.DISCONNECTED, StreamState.STALE):
                    sink.stream_down(status.at)
            hooks.on_stream_state(status)

        from .connector import BinanceConnector
        from .errors import UnlistedSymbols
        from .symbols_check import unlisted_error

        connector = BinanceConnector(
            endpoints=endpoints,
            api_key=api_key,
            api_secret=api_secret,
            config=self.config,
            symbols=symbols,
            sink=sink,
            emit_tick=hooks.on_tick,  # bound once: no frame of ours per tick
            on_status=on_status,
            wall_time=ctx.clock.time,
            # The clock the exchange runs on: an embedded simulator's is the bot's clock (a
            # ManualClock in tests), anything else runs on real time.
            exchange_time=exchange_time,
            recv_window_ms=exchange.recv_window_ms,
            spawn=lambda coro, name: ctx.spawn(coro, name=name, owner="binance"),
            sleep=ctx.clock.sleep,
            # The symbols' filters and leverage brackets, for ctx.rules() and the order API.
            publish_rules=lambda rules: ctx.publish_rules(self, rules),
            owners=[s.id for s in ctx.settings.strategies if s.enabled],
            taps=ctx.frame_taps,
        )
        self.connector = connector

        def on_block(reason: str, wait: float) -> None:
            hooks.on_alert(
                Alert(
                    kind="rate_limited",
                    subject="rest",
                    message=f"REST {reason}: every request waits {wait:.0f} s",
                    at=ctx.clock.time(),
                )
            )

        connector.rest.governor.on_block = on_block
        try:
            try:
                await connector.start()
            except UnlistedSymbols as exc:
                # A symbol the exchange does not list would get no tick and no fill, silently.
                raise unlisted_error(ctx.settings, ctx.plugin, exc.missing[0], exc.listed) from None
            yield
        finally:
            await connector.close()

    @hookimpl(trylast=True)
    def provide_exchange(self, ctx: BotContext) -> BinanceConnector | None:
        """The connector started in ``lifespan``."""
        return self.connector

    @hookimpl
    def summarize_run(self, ctx: BotContext) -> Mapping[str, Any] | None:
        """``stream``, ``events``, ``rest``, ``rules`` and ``order_api`` sections."""
        if self.connector is None:
            return None
        return dict(self.connector.stats())


def _endpoints_of(endpoint: ExchangeEndpoint, config: BinanceConfig) -> Endpoints:
    """A published or configured non-Binance exchange: its URLs, legacy stream paths unless
    ``routed_streams`` is set."""
    rest = endpoint.rest_url.rstrip("/")
    stream = (endpoint.stream_url or _ws_of(rest)).rstrip("/")
    return Endpoints(rest, stream, bool(config.routed_streams))


def _ws_of(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


def config_from(raw: Mapping[str, Any]) -> BinanceConfig:
    """Validate a raw ``plugins.binance`` mapping (tests, tools)."""
    return msgspec.convert(dict(raw), BinanceConfig, strict=False)
