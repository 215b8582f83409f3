"""Strategy state, order intents and adoption across restarts, in-process against the simulator
(a shared journal file, one simulator outliving the bots)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from framework import OrderRequest, Strategy
from framework.runtime import Bot
from plugins.journal import Journal, JournalSettings
from plugins.sim import SimExchange
from plugins.sim.testing import SimBotFactory, until

LONG_ID = "a_strategy_id_too_long_for_an_order_id"


class Keeper(Strategy):
    """Does nothing by itself; the tests drive it."""

    symbols = ("BTCUSDT",)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.state_at_start: dict[str, Any] | None = None


def _entry(sid: str = "keeper") -> dict[str, Any]:
    return {"id": sid, "use": f"{__name__}:Keeper"}


async def _bot(
    sim_bot: SimBotFactory, sim: SimExchange, path: Path | None, *ids: str
) -> tuple[Bot, list[Keeper]]:
    plugins: dict[str, object] = {}
    if path is not None:
        plugins["journal"] = Journal(JournalSettings(path=str(path)))
    bot = await sim_bot(
        plugins=plugins, overrides={"strategies": [_entry(i) for i in ids or ("keeper",)]}, sim=sim
    )
    # Orders are checked against the symbol's filters, the price band needs a mark price.
    await until(lambda: "BTCUSDT" in bot.ctx.last_ticks)
    keepers = []
    for sid in ids or ("keeper",):
        plugin = bot.ctx.plugin(f"strategy:{sid}")
        assert isinstance(plugin, Keeper)
        keepers.append(plugin)
    return bot, keepers


def _resting(price: str = "63000") -> OrderRequest:
    """A BUY that rests: under the start price 65000, inside its 5 % price band."""
    return OrderRequest(
        symbol="BTCUSDT", side="BUY", type="LIMIT", quantity=Decimal("0.002"), price=Decimal(price)
    )


async def test_saved_state_is_loaded_before_the_next_start(
    sim_bot: SimBotFactory, sim_exchange: SimExchange, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    bot, (keeper,) = await _bot(sim_bot, sim_exchange, path)
    assert keeper.state == {}
    await keeper.save_state(bot.ctx, {"paid": Decimal("65000.5"), "n": 3})
    assert keeper.state == {"paid": Decimal("65000.5"), "n": 3}
    with pytest.raises(ValueError, match="strategy 'keeper' cannot be saved as JSON"):
        await keeper.save_state(bot.ctx, {"bad": object()})
    await bot.stop()
    bot, (keeper,) = await _bot(sim_bot, sim_exchange, path)
    assert keeper.state == {"paid": "65000.5", "n": 3}  # Decimal comes back as its text
    assert bot.ctx.state_persistent
    summary = await bot.stop()
    assert summary["recovery"]["state_persistent"] is True


async def test_without_a_journal_state_lasts_one_run(
    sim_bot: SimBotFactory, sim_exchange: SimExchange
) -> None:
    bot, (keeper,) = await _bot(sim_bot, sim_exchange, None)
    assert not bot.ctx.state_persistent
    await keeper.save_state(bot.ctx, {"n": 1})
    assert bot.ctx.strategy_state("keeper") == {"n": 1}
    await bot.stop()
    bot, (keeper,) = await _bot(sim_bot, sim_exchange, None)
    assert keeper.state == {}


async def test_an_intent_is_sent_once_in_a_run_and_after_a_restart(
    sim_bot: SimBotFactory, sim_exchange: SimExchange, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite3"
    bot, (keeper,) = await _bot(sim_bot, sim_exchange, path)
    orders = keeper.orders(bot.ctx)
    first = await orders.place(_resting(), intent="entry-1")
    again = await orders.place(_resting("63100"), intent="entry-1")  # decided again: no send
    assert again.client_order_id == first.client_order_id
    assert len(sim_exchange.engine.orders) == 1
    await bot.stop()
    bot, (keeper,) = await _bot(sim_bot, sim_exchange, path)
    replay = await keeper.orders(bot.ctx).place(_resting("63200"), intent="entry-1")
    assert replay.order_id == first.order_id
    await keeper.orders(bot.ctx).place(_resting("63300"), intent="entry-2")
    assert len(sim_exchange.engine.orders) == 2
    summary = await bot.stop()
    assert summary["recovery"]["orders"]["replayed"] == 1


async def test_an_order_whose_answer_was_lost_is_found_at_start(
    sim_bot: SimBotFactory, sim_exchange: SimExchange, tmp_path: Path
) -> None:
    """The record is there, the acknowledgement is not (the bot died in between)."""
    path = tmp_path / "journal.sqlite3"
    bot, (keeper,) = await _bot(sim_bot, sim_exchange, path)
    order = await keeper.orders(bot.ctx).place(_resting(), intent="entry-1")
    store = bot.ctx.intents.store
    assert store is not None
    await store.acknowledge_intent(order.client_order_id, None)  # as if never answered...
    record = order.client_order_id
    await bot.stop()
    import sqlite3

    with sqlite3.connect(path) as db:  # ...but recorded before it was sent
        db.execute(
            "INSERT INTO order_intents (client_order_id, strategy_id, intent, symbol, request, "
            "created_at, order_id) VALUES (?, 'keeper', 'entry-1', 'BTCUSDT', ?, 0, NULL)",
            (
                record,
                '{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","quantity":"0.002",'
                '"price":"63000","client_order_id":"' + record + '"}',
            ),
        )
    bot, (keeper,) = await _bot(sim_bot, sim_exchange, path)
    assert bot.ctx.intents.stats["recovered"] == 1
    assert [o.client_order_id for o in keeper.orders(bot.ctx).open_orders()] == [record]
    assert (await store_of(bot).unacknowledged()) == []
    await bot.stop()


def store_of(bot: Bot) -> Any:
    store = bot.ctx.intents.store
    assert store is not None
    return store


async def test_open_orders_of_an_earlier_run_are_adopted_by_their_owner(
    sim_bot: SimBotFactory, sim_exchange: SimExchange, tmp_path: Path
) -> None:
    bot, (short, long_) = await _bot(sim_bot, sim_exchange, None, "short", LONG_ID)
    mine = await long_.orders(bot.ctx).place(_resting())
    assert "." in mine.client_order_id  # the long id is hashed in the client order id
    await short.orders(bot.ctx).place(_resting("63100"))
    await sim_exchange.place_order(
        "BTCUSDT", "BUY", Decimal("0.002"), order_type="LIMIT", price=Decimal("63200")
    )
    await bot.stop()
    bot, (short, long_) = await _bot(sim_bot, sim_exchange, None, "short", LONG_ID)
    assert [o.client_order_id for o in long_.orders(bot.ctx).open_orders()] == [
        mine.client_order_id
    ]
    assert len(short.orders(bot.ctx).open_orders()) == 1
    await until(lambda: len(bot.ctx.cache.open_orders) == 3)
    summary = await bot.stop()
    assert summary["order_api"]["adopted"] == 3
    assert summary["adopted_orders"] == {"-": 1, LONG_ID: 1, "short": 1}
