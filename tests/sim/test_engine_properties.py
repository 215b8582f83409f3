"""Accounting invariants of the pure engine (no sockets), checked with hypothesis."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.sim.engine import ZERO, Engine, OrderType, Quote, Side, Status, TimeInForce
from plugins.sim.errors import BinanceError
from plugins.sim.symbols import SYMBOL_CATALOGUE

SPEC = SYMBOL_CATALOGUE["BTCUSDT"]
START = Decimal("1000000")


def new_engine() -> Engine:
    quote = Quote(Decimal("65000.00"), Decimal("2.000"), Decimal("65000.10"), Decimal("2.000"))
    return Engine(
        {"BTCUSDT": SPEC},
        {"USDT": START},
        leverage=20,
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0004"),
        quotes={"BTCUSDT": quote},
    )


place = st.tuples(
    st.just("place"),
    st.sampled_from(list(Side)),
    st.sampled_from(list(OrderType)),
    st.integers(1, 3000).map(lambda n: Decimal(n) / 1000),
    st.integers(-30, 30),
    st.sampled_from(list(TimeInForce)),
    st.booleans(),
)
move = st.tuples(st.just("move"), st.integers(-400, 400), st.integers(1, 3000))
cancel = st.tuples(st.just("cancel"), st.integers(0, 10))
actions = st.lists(st.one_of(place, move, cancel), max_size=40)


def run(engine: Engine, script: list[tuple[object, ...]]) -> int:
    now = 1
    mid = Decimal("65000.00")
    for action in script:
        now += 1
        try:
            if action[0] == "place":
                _, side, kind, qty, offset, tif, reduce = action
                assert isinstance(side, Side)
                assert isinstance(kind, OrderType)
                assert isinstance(qty, Decimal)
                assert isinstance(offset, int)
                assert isinstance(tif, TimeInForce)
                assert isinstance(reduce, bool)
                price = (mid + Decimal(offset) * 10) if kind is OrderType.LIMIT else None
                engine.place_order(
                    symbol="BTCUSDT",
                    side=side,
                    order_type=kind,
                    quantity=qty,
                    price=price,
                    time_in_force=tif,
                    reduce_only=reduce,
                    client_order_id=f"c{now}",
                    now=now,
                )
            elif action[0] == "move":
                _, ticks, qty = action
                assert isinstance(ticks, int)
                assert isinstance(qty, int)
                mid = max(Decimal("1000"), mid + Decimal(ticks) / 10)
                size = Decimal(qty) / 1000
                engine.on_quote("BTCUSDT", Quote(mid, size, mid + Decimal("0.1"), size), now)
            else:
                open_orders = list(engine.open_orders["BTCUSDT"].values())
                index = action[1]
                assert isinstance(index, int)
                if open_orders:
                    engine.cancel_order(open_orders[index % len(open_orders)], now)
        except BinanceError:
            pass
    return now


@settings(max_examples=150, deadline=None)
@given(actions)
def test_wallet_change_is_realized_pnl_minus_fees(script: list[tuple[object, ...]]) -> None:
    engine = new_engine()
    run(engine, script)
    realized = sum((t.realized_pnl for t in engine.trades), ZERO)
    fees = sum((t.commission for t in engine.trades), ZERO)
    assert engine.wallet["USDT"] - START == realized - fees
    income = sum((i.income for i in engine.incomes), ZERO)
    assert engine.wallet["USDT"] - START == income


@settings(max_examples=150, deadline=None)
@given(actions)
def test_positions_and_orders_agree_with_fills(script: list[tuple[object, ...]]) -> None:
    engine = new_engine()
    run(engine, script)
    signed = sum((t.qty if t.side is Side.BUY else -t.qty for t in engine.trades), ZERO)
    position = engine.positions["BTCUSDT"]
    assert position.amount == signed
    if position.amount == 0:
        assert position.entry_price == 0
    else:
        assert position.entry_price > 0
    assert position.realized == sum((t.realized_pnl for t in engine.trades), ZERO)
    for (symbol, order_id), order in engine.orders.items():
        fills = [t for t in engine.trades if t.order_id == order_id]
        assert order.executed_qty == sum((t.qty for t in fills), ZERO)
        assert order.cum_quote == sum((t.qty * t.price for t in fills), ZERO)
        assert order.executed_qty <= order.orig_qty
        if order.status is Status.FILLED:
            assert order.executed_qty == order.orig_qty
        is_open = order_id in engine.open_orders[symbol]
        assert is_open == order.is_open
        if order.status is Status.NEW:
            assert order.executed_qty == 0


def test_entry_price_is_the_weighted_average() -> None:
    engine = new_engine()
    engine.place_order(
        symbol="BTCUSDT",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        quantity=Decimal("1"),
        price=None,
        time_in_force=TimeInForce.GTC,
        reduce_only=False,
        client_order_id="a",
        now=1,
    )
    engine.on_quote(
        "BTCUSDT", Quote(Decimal("66000.00"), Decimal(2), Decimal("66000.10"), Decimal(2)), 2
    )
    engine.place_order(
        symbol="BTCUSDT",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        quantity=Decimal("1"),
        price=None,
        time_in_force=TimeInForce.GTC,
        reduce_only=False,
        client_order_id="b",
        now=3,
    )
    position = engine.positions["BTCUSDT"]
    assert position.amount == 2
    assert position.entry_price == Decimal("65500.10")
    engine.on_quote(
        "BTCUSDT", Quote(Decimal("67000.00"), Decimal(2), Decimal("67000.10"), Decimal(2)), 4
    )
    engine.place_order(
        symbol="BTCUSDT",
        side=Side.SELL,
        order_type=OrderType.MARKET,
        quantity=Decimal("3"),
        price=None,
        time_in_force=TimeInForce.GTC,
        reduce_only=False,
        client_order_id="c",
        now=5,
    )
    assert position.amount == -1
    assert position.realized == Decimal("2999.80")
    assert position.entry_price == Decimal("66999.50")  # the third unit swept level 2
    assert engine.unrealized("BTCUSDT") == Decimal("-0.55")
