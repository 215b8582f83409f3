"""The writable account cache is a capability: the exchange's provider and declared writers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from decimal import Decimal

import pytest

from framework import (
    CACHE_WRITER,
    Balance,
    BotContext,
    CacheWriteDenied,
    hookimpl,
)
from framework.testing import BotFactory


def usdt(amount: str, t: int) -> Balance:
    return Balance(
        asset="USDT",
        wallet_balance=Decimal(amount),
        cross_wallet_balance=Decimal(amount),
        event_time=t,
    )


class DeclaredWriter:
    """A replacement for reconciliation: declares the role, so it may write."""

    tradeloop_roles = frozenset({CACHE_WRITER})


async def test_a_plugin_declaring_the_role_may_write(bot_factory: BotFactory) -> None:
    writer = DeclaredWriter()
    bot = await bot_factory(plugins={"writer": writer})
    assert bot.ctx.account_for(writer).apply_balance(usdt("5", 1))
    assert bot.ctx.cache.balances["USDT"].wallet_balance == Decimal(5)


async def test_an_object_that_is_not_a_registered_plugin_is_refused(
    bot_factory: BotFactory,
) -> None:
    bot = await bot_factory()
    with pytest.raises(CacheWriteDenied, match="not a registered plugin"):
        bot.ctx.account_for(DeclaredWriter())


class Connector:
    """Implements ``provide_exchange``; answers with ``answer`` and may take the cache."""

    def __init__(self, answer: object | None, *, take: bool) -> None:
        self.answer = answer
        self.take = take

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        if self.take:
            ctx.account_for(self)
        yield

    @hookimpl
    def provide_exchange(self, ctx: BotContext) -> object | None:
        return self.answer


async def test_a_connector_that_took_the_cache_but_did_not_provide_the_exchange_stops_startup(
    bot_factory: BotFactory,
) -> None:
    bot = await bot_factory(
        plugins={
            "real": Connector(object(), take=True),
            "passing": Connector(None, take=True),
        },
        start=False,
    )
    with pytest.raises(CacheWriteDenied, match="plugin 'passing' may not write"):
        await bot.start()


async def test_after_the_answer_only_the_provider_may_take_the_cache(
    bot_factory: BotFactory,
) -> None:
    real, passing = Connector(object(), take=False), Connector(None, take=False)
    bot = await bot_factory(plugins={"real": real, "passing": passing})
    assert bot.ctx.account_for(real) is bot.account
    with pytest.raises(CacheWriteDenied, match=r"'passing'.*provider \(real\)"):
        bot.ctx.account_for(passing)
