"""The ``sim`` built-in plugin: the embedded simulated exchange, and ``tradeloop sim``.

When ``exchange.name`` is ``sim`` its ``lifespan`` starts a ``SimExchange`` on loopback (no
``exchange.rest_url``) or points at the one running there (a standalone ``tradeloop sim``), and
publishes where it is through the core's seam, ``ctx.publish_exchange_endpoint``: URLs, the
demo credentials and the exchange's clock. It starts before the connector (``start_priority``)
and so stops after it. It never touches the account cache.

With ``exchange.name: paper`` it runs the same exchange on the venue's live prices instead of
the random walk (``paper``): the real connector, cache and reconciliation run unchanged against it.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
from loguru import logger

from framework import BotContext, Command, ExchangeEndpoint, Settings, SettingsError, hookimpl

from . import account
from .config import SimSettings, check_settings
from .paper_settings import check_paper_exchange
from .strategy_symbols import check_configured_symbols, listed_symbols, unlisted

if TYPE_CHECKING:  # the exchange (aiohttp) is imported when it starts, not with the CLI
    from .exchange import SimExchange
    from .upstream import UpstreamFeed

NAME = "sim"
EXCHANGE_NAME = "sim"
PAPER = "paper"
LOOPBACK = "127.0.0.1"
# Lower than a connector's default (100), higher than logging's (0): the exchange is up before
# the connector starts and goes down after it stopped.
START_PRIORITY = 50


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=LOOPBACK, help="interface to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--seed", type=int, help="seed of the price path and faults (plugins.sim.seed)"
    )
    reset = parser.add_mutually_exclusive_group()
    reset.add_argument(
        "--fresh",
        action="store_true",
        help="start from a fresh account; the saved one is kept as account.<time>.json",
    )
    reset.add_argument(
        "--reset",
        action="store_true",
        help="only move the saved account aside (as --fresh does) and exit",
    )


def ws_of(url: str) -> str:
    """The WebSocket base URL served beside the REST base URL ``url``."""
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


class SimPlugin:
    """Runs the simulated exchange for ``exchange.name: sim``; adds ``tradeloop sim``."""

    start_priority = START_PRIORITY
    tradeloop_roles = frozenset({"exchange_endpoint"})
    """It publishes where the exchange is: ``tradeloop check --exchange`` starts it."""

    def __init__(self, config: SimSettings | None = None) -> None:
        self.config = config or SimSettings()
        # The embedded exchange while it runs (tests read its ``truth()`` and ``engine``).
        self.exchange: SimExchange | None = None
        # ``exchange.name: paper``: the feed of the venue's live prices while it runs.
        self.feed: UpstreamFeed | None = None

    @staticmethod
    @hookimpl
    def declare_settings() -> type:
        """``plugins.sim`` settings."""
        return SimSettings

    @hookimpl
    def validate_settings(self, settings: Settings) -> None:
        """Symbols, balances and fees a type check cannot catch; on the simulator, every
        symbol the settings trade is one it lists."""
        check_settings(self.config)
        if settings.exchange.name == PAPER:
            check_paper_exchange(settings)
        if settings.exchange.name == EXCHANGE_NAME:
            check_configured_symbols(
                settings, listed_symbols(settings, self._own_symbols(settings))
            )

    def _own_symbols(self, settings: Settings) -> list[str] | None:
        """``plugins.sim.symbols`` when the settings set it."""
        return self.config.symbols if "symbols" in settings.plugins.get(NAME, {}) else None

    @hookimpl
    def register_commands(self) -> list[Command]:
        """``tradeloop sim``: the exchange standalone, until Ctrl-C."""
        return [
            Command(
                name="sim",
                help="run the simulated Binance USD-M futures exchange standalone",
                run=self._run,
                configure=_configure,
            )
        ]

    async def _run(self, args: argparse.Namespace, settings: Settings) -> int:
        config = self.config
        if args.seed is not None:
            config = msgspec.structs.replace(config, seed=args.seed)
        path = self._account_file(settings)
        if (args.fresh or args.reset) and path is not None:
            lock = account.AccountLock(path)
            lock.acquire()  # not while a simulator uses it
            try:
                kept = account.move_aside(path)
            finally:
                lock.release()
            print(f"fresh simulator account; the old one is {kept}" if kept else "no saved account")
        if args.reset:
            return 0
        from .standalone import serve_forever

        await serve_forever(config, port=args.port, host=args.host, account_file=path)
        return 0

    def _account_file(self, settings: Settings) -> Path | None:
        """Where the paper account lives (``None`` with ``persist: false``)."""
        if not self.config.persist:
            return None
        paper = settings.exchange.name == PAPER
        return account.account_path(settings.runtime.data_dir, paper=paper)

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None] | None:
        """Start the embedded exchange (or point at a standalone one) and publish it; with
        ``exchange.name: paper``, on the venue's live prices."""
        if ctx.settings.exchange.name == PAPER:
            from .paper import paper_lifespan

            return paper_lifespan(self, ctx)
        if ctx.settings.exchange.name != EXCHANGE_NAME:
            return None
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        exchange = ctx.settings.exchange
        config = self.config
        if exchange.rest_url:  # a standalone simulator: its URLs, this block's demo keys
            endpoint = ExchangeEndpoint(
                rest_url=exchange.rest_url.rstrip("/"),
                stream_url=(exchange.stream_url or ws_of(exchange.rest_url)).rstrip("/"),
                api_key=config.api_key,
                api_secret=config.api_secret,
                clock=None,
                provider=NAME,
            )
            ctx.publish_exchange_endpoint(endpoint)
            try:
                yield
            finally:
                ctx.publish_exchange_endpoint(None)
            return
        from .exchange import SimExchange

        sim = SimExchange(
            self._embedded_settings(ctx),
            clock=ctx.clock.time,
            account_file=self._account_file(ctx.settings),
        )
        await sim.start(LOOPBACK, 0)
        self.exchange = sim
        logger.info("embedded simulator on {}", sim.rest_url)
        try:
            ctx.publish_exchange_endpoint(
                ExchangeEndpoint(
                    rest_url=sim.rest_url,
                    stream_url=sim.ws_url,
                    api_key=sim.settings.api_key,
                    api_secret=sim.settings.api_secret,
                    clock=ctx.clock.time,
                    provider=NAME,
                )
            )
            yield
        finally:
            ctx.publish_exchange_endpoint(None)
            self.exchange = None
            await sim.stop()

    def _embedded_settings(self, ctx: BotContext) -> SimSettings:
        """This block's settings; without ``symbols`` of its own, the subscribed symbols.

        A subscribed symbol it cannot list (one only a strategy's ``symbols`` attribute names)
        stops the start: a strategy must never wait silently for ticks that cannot come.
        """
        own = self._own_symbols(ctx.settings)
        subscribed = ctx.subscribed_symbols()
        missing = unlisted(subscribed, listed_symbols(ctx.settings, own))
        if missing:
            raise SettingsError(
                "strategies",
                missing,
                "symbols the simulated exchange lists: "
                + ", ".join(listed_symbols(ctx.settings, own)),
            )
        if own is not None or not subscribed:
            return self.config
        return msgspec.structs.replace(self.config, symbols=list(subscribed))
