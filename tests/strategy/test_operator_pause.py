"""An operator pauses and resumes one strategy instance: no ticks, orders refused, account
events still delivered; an instance paused by its own error is told apart and stays paused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from framework import OrderRequest
from framework.errors import StrategyPaused
from framework.testing import BotFactory
from tests.strategy.test_strategy_api import USE, order, recorder, strategies, tick

BUY = OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal(1))


async def test_a_paused_instance_gets_no_ticks_and_no_orders_until_resumed(
    bot_factory: BotFactory,
) -> None:
    bot = await bot_factory(strategies({"id": "a", "use": USE}, {"id": "b", "use": USE}))
    ctx = bot.ctx
    ctx.hooks.on_tick(tick(1))
    assert ctx.pause_strategy("a", "http:ops") is True
    assert ctx.pause_strategy("a", "again") is False  # paused already: nothing changes
    ctx.hooks.on_tick(tick(2))
    ctx.hooks.on_order_update(None, order(7))  # account events still reach it
    assert [t.update_id for t in recorder(bot, "a").ticks] == [1]
    assert [t.update_id for t in recorder(bot, "b").ticks] == [1, 2]
    assert "order 7 NEW" in recorder(bot, "a").events
    with pytest.raises(StrategyPaused, match="paused by operator: http:ops"):
        await ctx.orders("a").place(BUY)
    stats = ctx.strategy_stats()
    assert stats["a"]["state"] == "paused"
    assert stats["a"]["paused_by"] == "operator"
    assert stats["b"]["paused_by"] == ""

    assert ctx.resume_strategy("a") is True
    assert ctx.resume_strategy("a") is False
    ctx.hooks.on_tick(tick(3))
    assert [t.update_id for t in recorder(bot, "a").ticks] == [1, 3]
    assert ctx.strategy_stats()["a"]["state"] == "running"


async def test_an_instance_paused_by_its_error_is_told_apart_and_not_resumed(
    bot_factory: BotFactory,
) -> None:
    bot = await bot_factory(strategies({"id": "bad", "use": USE, "params": {"fail_on_tick": True}}))
    ctx = bot.ctx
    ctx.hooks.on_tick(tick(1))
    stats = ctx.strategy_stats()["bad"]
    assert stats["paused_by"] == "error"
    assert "RuntimeError" in stats["reason"]
    assert ctx.pause_strategy("bad", "ops") is False
    with pytest.raises(RuntimeError, match="paused by an error"):
        ctx.resume_strategy("bad")
    assert ctx.strategy_paused_by("bad") == "error"


async def test_unknown_instances_are_named(bot_factory: BotFactory) -> None:
    bot = await bot_factory(strategies({"id": "a", "use": USE}))
    with pytest.raises(KeyError, match="nope"):
        bot.ctx.pause_strategy("nope", "ops")
    with pytest.raises(KeyError, match="nope"):
        bot.ctx.resume_strategy("nope")
