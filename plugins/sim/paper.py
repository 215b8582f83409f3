"""``exchange.name: paper``: the simulator's exchange on the venue's live public prices.

Why this shape: the ``sim`` plugin already serves the real wire protocol on loopback with the
matching engine, the account file and every endpoint the connector and reconciliation use. In
paper mode only its price source changes (``upstream.UpstreamFeed`` instead of the random
walk) and its contracts are the venue's (``exchangeInfo``), so the connector, the cache,
reconciliation, the journal, reports and status run exactly as in a live run, and orders are
matched by the same engine with the same fills, fees and filters.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import msgspec
from loguru import logger

from framework import BotContext, ExchangeEndpoint, SettingsError

from . import account
from .exchange import SimExchange
from .upstream import UpstreamFeed, VenueError, load_venue

if TYPE_CHECKING:
    from .plugin import SimPlugin

LOOPBACK = "127.0.0.1"


class StrategyHold:
    """Holds the strategies while the venue's prices are stale; at most one hold at a time."""

    def __init__(self, ctx: BotContext) -> None:
        self._ctx = ctx
        self._release: Callable[[], None] | None = None

    def hold(self, reason: str) -> None:
        """Hold (again) unless already held."""
        if self._release is None:
            self._release = self._ctx.hold_strategies(f"paper: {reason}")

    def release(self) -> None:
        """Let the strategies trade again."""
        if self._release is not None:
            release, self._release = self._release, None
            release()


@contextlib.asynccontextmanager
async def paper_lifespan(plugin: SimPlugin, ctx: BotContext) -> AsyncIterator[None]:
    """Read the venue, start the local exchange on loopback fed by its streams, publish it."""
    config = plugin.config
    paper = config.paper
    path = plugin._account_file(ctx.settings)
    subscribed = list(ctx.subscribed_symbols())
    saved = account.load(path) if path is not None else None
    held = sorted(saved.symbols() - set(subscribed)) if saved is not None else []
    try:
        venue = await load_venue(
            paper.rest_url,
            [*subscribed, *held],
            history_minutes=paper.history_minutes,
            now_ms=int(ctx.clock.time() * 1000),
        )
    except VenueError as exc:
        raise VenueError(f"paper trading cannot start: {exc}") from None
    missing = [s for s in subscribed if s in venue.unlisted]
    if missing:
        configured = [s.upper() for s in ctx.settings.exchange.symbols]
        key = next(
            (f"exchange.symbols[{i}]" for i, s in enumerate(configured) if s in missing),
            "strategies",
        )
        raise SettingsError(
            key, missing, f"symbols {paper.rest_url} lists as trading USDT contracts"
        )
    symbols = [s for s in [*subscribed, *held] if s in venue.specs]
    sim = SimExchange(
        msgspec.structs.replace(config, symbols=symbols, updates_per_second=0.0),
        clock=ctx.clock.time,
        account_file=path,
        specs=venue.specs,
        history=venue.history,
    )
    hold = StrategyHold(ctx)
    feed = UpstreamFeed(sim, paper, on_stale=hold.hold, on_fresh=hold.release)
    await sim.start(LOOPBACK, 0)
    plugin.exchange = sim
    plugin.feed = feed
    logger.warning(
        "PAPER trading: prices from {} (public, no API keys), orders matched locally; account {}",
        paper.stream_url,
        path if path is not None else "not saved (plugins.sim.persist: false)",
    )
    try:
        hold.hold("waiting for the venue's first prices")
        feed.start()
        ctx.publish_exchange_endpoint(
            ExchangeEndpoint(
                rest_url=sim.rest_url,
                stream_url=sim.ws_url,
                api_key=sim.settings.api_key,
                api_secret=sim.settings.api_secret,
                clock=ctx.clock.time,
                provider="sim",
            )
        )
        yield
    finally:
        ctx.publish_exchange_endpoint(None)
        await feed.close()
        hold.release()
        plugin.exchange = None
        plugin.feed = None
        await sim.stop()
