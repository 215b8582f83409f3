"""The account cache: event-time order, duplicates, fills once, read-only views, hooks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from framework import Balance, Fill, Order, Position
from framework.cache import AccountCache
from framework.testing import BotFactory, HookRecorder


def bal(amount: str, t: int, asset: str = "USDT") -> Balance:
    return Balance(
        asset=asset,
        wallet_balance=Decimal(amount),
        cross_wallet_balance=Decimal(amount),
        event_time=t,
    )


def pos(amount: str, t: int, symbol: str = "BTCUSDT") -> Position:
    return Position(
        symbol=symbol,
        side="BOTH",
        amount=Decimal(amount),
        entry_price=Decimal("100"),
        unrealized_pnl=Decimal(0),
        event_time=t,
    )


def order(status: str, executed: str, t: int, order_id: int = 1) -> Order:
    return Order(
        symbol="BTCUSDT",
        order_id=order_id,
        client_order_id=f"c{order_id}",
        side="BUY",
        type="LIMIT",
        status=status,
        price=Decimal("100"),
        orig_qty=Decimal("2"),
        executed_qty=Decimal(executed),
        event_time=t,
    )


def fill(trade_id: int) -> Fill:
    return Fill(
        symbol="BTCUSDT",
        order_id=1,
        trade_id=trade_id,
        client_order_id="c1",
        side="BUY",
        price=Decimal("100"),
        qty=Decimal("1"),
        fee=Decimal("0.04"),
        fee_asset="USDT",
        realized_pnl=Decimal(0),
        is_maker=False,
        event_time=5,
    )


def test_older_update_is_ignored_and_counted() -> None:
    cache = AccountCache()
    assert cache.apply_balance(bal("10", 2))
    assert not cache.apply_balance(bal("5", 1))
    assert cache.view.balances["USDT"].wallet_balance == Decimal("10")
    assert cache.stats.stale_ignored == 1


def test_duplicate_is_harmless() -> None:
    cache = AccountCache()
    assert cache.apply_balance(bal("10", 2))
    assert not cache.apply_balance(bal("10", 2))
    assert cache.stats.duplicates == 1
    assert cache.stats.applied == 1


def test_closed_position_leaves_the_view() -> None:
    cache = AccountCache()
    cache.apply_position(pos("1", 1))
    assert cache.view.position("BTCUSDT") is not None
    cache.apply_position(pos("0", 2))
    assert cache.view.position("BTCUSDT") is None
    assert not cache.apply_position(pos("1", 1))  # a late update cannot reopen it


def test_orders_never_move_backwards() -> None:
    cache = AccountCache()
    cache.apply_order(order("NEW", "0", 1))
    cache.apply_order(order("FILLED", "2", 3))
    assert cache.view.open_orders == {}
    assert not cache.apply_order(order("PARTIALLY_FILLED", "1", 2))  # reordered, older
    assert not cache.apply_order(order("PARTIALLY_FILLED", "1", 3))  # same time, less progress
    assert cache.view.open_orders == {}


def test_fills_are_delivered_once() -> None:
    cache = AccountCache()
    assert cache.apply_fill(fill(1))
    assert not cache.apply_fill(fill(1))
    assert cache.apply_fill(fill(2))
    assert (cache.stats.fills, cache.stats.duplicate_fills) == (2, 1)


def test_view_sums_fills_once_read_only() -> None:
    cache = AccountCache()
    for trade_id in (1, 1, 2):
        cache.apply_fill(fill(trade_id))
    view = cache.view
    assert (view.fill_count, dict(view.fees), dict(view.realized_pnl)) == (
        2,
        {"USDT": Decimal("0.08")},
        {"BTCUSDT": Decimal(0)},
    )
    with pytest.raises(TypeError):
        view.fees["USDT"] = Decimal(0)  # type: ignore[index]


def test_views_are_read_only() -> None:
    cache = AccountCache()
    cache.apply_balance(bal("10", 1))
    with pytest.raises(TypeError):
        cache.view.balances["USDT"] = bal("1", 2)  # type: ignore[index]
    with pytest.raises(AttributeError):
        cache.view.balances["USDT"].wallet_balance = Decimal(0)  # type: ignore[misc]


async def test_changes_emit_hooks_with_before_and_after(
    bot_factory: BotFactory, hook_recorder: HookRecorder
) -> None:
    bot = await bot_factory()
    hook_recorder.attach(bot)
    bot.account.apply_balance(bal("10", 1))
    bot.account.apply_balance(bal("12", 2))
    bot.account.apply_balance(bal("12", 2))
    bot.account.apply_fill(fill(9))
    updates = hook_recorder.of("on_balance_update")
    assert updates[0]["before"] is None
    assert updates[0]["after"].wallet_balance == Decimal("10")
    assert updates[1]["before"].wallet_balance == Decimal("10")
    assert len(updates) == 2
    assert [f["fill"].trade_id for f in hook_recorder.of("on_fill")] == [9]
    assert bot.ctx.cache.balances["USDT"].wallet_balance == Decimal("12")


def test_fill_gaps_name_orders_whose_fills_fall_short_of_their_executed_quantity() -> None:
    cache = AccountCache()
    cache.apply_order(order("NEW", "0", 1))
    assert cache.fill_gaps(10) == []
    cache.apply_order(order("PARTIALLY_FILLED", "1", 2))
    cache.apply_fill(fill(1))  # the same message's fill: no gap
    assert cache.fill_gaps(10) == []
    cache.apply_order(order("FILLED", "2", 3))  # its fill was lost
    [(short, missing)] = cache.fill_gaps(10)
    assert (short.status, missing) == ("FILLED", Decimal(1))
    assert cache.fill_gaps(2) == []  # updated after `through`: not reported
    cache.apply_fill(fill(2))  # read back (or arrived late)
    assert cache.fill_gaps(10) == []
    assert cache.filled_qty("BTCUSDT", 1) == 2
    assert cache.has_fill("BTCUSDT", 1, 2)


def test_prior_fills_close_a_gap_of_history() -> None:
    cache = AccountCache()
    cache.apply_order(order("PARTIALLY_FILLED", "1.5", 1, order_id=7))
    assert [m for _, m in cache.fill_gaps(10)] == [Decimal("1.5")]
    cache.set_prior_fills("BTCUSDT", 7, Decimal("1.5"))  # filled before the bot watched
    assert cache.fill_gaps(10) == []
    cache.apply_order(order("FILLED", "2", 2, order_id=7))
    assert [m for _, m in cache.fill_gaps(10)] == [Decimal("0.5")]


def test_an_unknown_order_status_ranks_as_closed_in_the_cache_and_in_reconciliation() -> None:
    from framework import cache as cache_module
    from plugins.reconciliation import compare

    cache = AccountCache()
    assert cache.apply_order(order("NEW_INSURANCE", "0", 5))  # not open: filed as closed
    assert not cache.apply_order(order("NEW", "0", 5))  # an equal-time NEW does not reopen it
    held = cache.order("BTCUSDT", 1)
    assert held is not None
    assert held.status == "NEW_INSURANCE"
    assert cache.stats.stale_ignored == 1
    # one rank, shared: reconciliation orders updates exactly as the cache does
    assert cache_module.order_progress is compare.order_progress


def test_an_open_state_with_less_progress_never_rolls_an_order_back() -> None:
    cache = AccountCache()
    # the REST answer of a market order: FILLED at its transaction time (updateTime)...
    cache.apply_order(order("FILLED", "2", 5))
    # ...then the stream's NEW of the same order, stamped with its later event time E
    assert not cache.apply_order(order("NEW", "0", 6))
    held = cache.order("BTCUSDT", 1)
    assert held is not None
    assert held.status == "FILLED"
    assert cache.open_orders_view == {}
    # an open order does not go back to less filled either
    cache.apply_order(order("PARTIALLY_FILLED", "1", 1, order_id=2))
    assert not cache.apply_order(order("NEW", "0", 2, order_id=2))
    # a closed state is ordered by time alone (a repair from REST always lands)
    assert cache.apply_order(order("CANCELED", "0", 3, order_id=2))


def test_a_trade_cursor_moving_on_is_announced_after_its_fills_never_back() -> None:
    told: list[tuple[str, int]] = []
    cache = AccountCache(on_cursor=lambda symbol, trade_id: told.append((symbol, trade_id)))
    cache.set_trade_cursor("BTCUSDT", 7)
    cache.set_trade_cursor("BTCUSDT", 5)  # never back: not announced
    cache.set_trade_cursor("BTCUSDT", 7)  # unchanged: not announced
    cache.set_trade_cursor("BTCUSDT", 9)
    assert told == [("BTCUSDT", 7), ("BTCUSDT", 9)]
    assert cache.trade_cursor("BTCUSDT") == 9


def test_a_held_fill_is_known_and_counts_for_its_order_but_is_not_announced() -> None:
    cache = AccountCache()
    cache.hold_fill("BTCUSDT", 1, 3, Decimal("1"))
    assert cache.has_fill("BTCUSDT", 1, 3)
    assert not cache.apply_fill(fill(3))  # an earlier run recorded it: not again
    assert cache.stats.fills == 0
    assert cache.realized_pnl == {}
    assert cache.fees == {}
    cache.apply_order(order("FILLED", "1", 10))
    assert cache.fill_gaps(10) == []  # the held fill explains the executed quantity
    assert cache.filled_qty("BTCUSDT", 1) == Decimal("1")
