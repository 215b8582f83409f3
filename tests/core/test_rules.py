"""``SymbolRules``: rounding to the tick and step, and naming every filter a request breaks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from framework import FilterRefused, LeverageBracket, OrderRequest, SymbolRules

D = Decimal
BTC = SymbolRules(
    symbol="BTCUSDT",
    tick_size=D("0.10"),
    min_price=D("0.10"),
    max_price=D("4529764"),
    step_size=D("0.001"),
    min_qty=D("0.001"),
    max_qty=D("1000"),
    market_step_size=D("0.001"),
    market_min_qty=D("0.001"),
    market_max_qty=D("120"),
    min_notional=D("100"),
    multiplier_up=D("1.05"),
    multiplier_down=D("0.95"),
    max_num_orders=200,
    brackets=(
        LeverageBracket(
            bracket=1,
            initial_leverage=125,
            notional_floor=D(0),
            notional_cap=D(50000),
            maint_margin_ratio=D("0.004"),
        ),
        LeverageBracket(
            bracket=2,
            initial_leverage=100,
            notional_floor=D(50000),
            notional_cap=D(600000),
            maint_margin_ratio=D("0.005"),
            cum=D(50),
        ),
    ),
)
MARK = D("65000")


def limit(side: str, qty: str, price: str, **kw: object) -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT",
        side=side,  # type: ignore[arg-type]
        type="LIMIT",
        quantity=D(qty),
        price=D(price),
        **kw,  # type: ignore[arg-type]
    )


def names(request: OrderRequest, **kw: object) -> list[str]:
    return [b.filter for b in BTC.check(request, mark=MARK, **kw)]  # type: ignore[arg-type]


def test_price_rounds_toward_the_passive_side() -> None:
    assert BTC.round_price(D("65000.07"), "BUY") == D("65000.00")
    assert BTC.round_price(D("65000.07"), "SELL") == D("65000.10")
    assert BTC.round_price(D("65000.10"), "SELL") == D("65000.10")
    assert BTC.round_quantity(D("0.0129")) == D("0.012")
    assert BTC.round_quantity(D("0.0005")) == D("0")


def test_each_broken_filter_is_named_with_its_values() -> None:
    assert names(limit("BUY", "0.002", "65000.0")) == []
    assert names(limit("BUY", "0.0025", "65000.05")) == ["LOT_SIZE", "PRICE_FILTER"]
    assert names(limit("BUY", "0.001", "65000")) == ["MIN_NOTIONAL"]
    assert names(limit("BUY", "0.001", "65000", reduce_only=True)) == []
    assert names(limit("BUY", "2000", "65000")) == ["LOT_SIZE"]
    assert names(limit("BUY", "0.01", "70000")) == ["PERCENT_PRICE"]
    assert names(limit("SELL", "0.01", "60000")) == ["PERCENT_PRICE"]
    assert names(limit("BUY", "0.01", "65000"), open_orders=200) == ["MAX_NUM_ORDERS"]
    market = OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=D("121"))
    assert names(market) == ["MARKET_LOT_SIZE"]
    breach = BTC.check(limit("BUY", "0.001", "65000"), mark=MARK)[0]
    assert "notional 65.000 < 100" in breach.message
    error = FilterRefused("BTCUSDT", BTC.check(limit("BUY", "0.0015", "1"), mark=MARK))
    assert error.filters == ("LOT_SIZE", "MIN_NOTIONAL")
    assert "LOT_SIZE: quantity 0.0015 is not a step of 0.001" in str(error)


def test_without_a_mark_the_band_and_a_market_notional_cannot_pass() -> None:
    found = BTC.check(limit("BUY", "0.01", "65000"), mark=None)
    assert [b.filter for b in found] == ["PERCENT_PRICE"]
    market = OrderRequest(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=D("0.01"))
    assert [b.filter for b in BTC.check(market, mark=None)] == ["MIN_NOTIONAL"]


def test_the_mark_margin_keeps_the_band_check_inside_the_band() -> None:
    edge = limit("BUY", "0.01", "68250.0")  # exactly mark x 1.05
    assert names(edge) == []
    assert [b.filter for b in BTC.check(edge, mark=MARK, mark_margin=D("0.005"))] == [
        "PERCENT_PRICE"
    ]


def test_brackets_give_the_leverage_of_a_notional() -> None:
    assert BTC.max_leverage(D(1000)) == 125
    assert BTC.max_leverage(D(-60000)) == 100
    assert BTC.max_leverage(D(10**9)) is None


prices = st.decimals(min_value=D("0.10"), max_value=D("200000"), places=4)
quantities = st.decimals(min_value=D("0.0001"), max_value=D("1500"), places=5)


@settings(max_examples=400, deadline=None)
@given(side=st.sampled_from(["BUY", "SELL"]), price=prices, qty=quantities)
def test_rounding_lands_on_the_grid_within_one_step_and_never_more_aggressive(
    side: str, price: Decimal, qty: Decimal
) -> None:
    request = limit(side, str(qty), str(price))
    rounded = BTC.rounded(request)
    assert rounded.price is not None
    assert (rounded.price - BTC.min_price) % BTC.tick_size == 0
    assert abs(rounded.price - price) < BTC.tick_size
    assert rounded.price <= price if side == "BUY" else rounded.price >= price
    assert rounded.quantity <= qty
    assert qty - rounded.quantity < BTC.step_size
    grid = [b.filter for b in BTC.check(rounded, mark=rounded.price)]
    assert "PRICE_FILTER" not in grid
    if BTC.min_qty <= rounded.quantity <= BTC.max_qty:
        assert "LOT_SIZE" not in grid


def test_rules_of_another_symbol_do_not_check() -> None:
    other = OrderRequest(symbol="ETHUSDT", side="BUY", type="MARKET", quantity=D(1))
    with pytest.raises(ValueError, match="ETHUSDT"):
        BTC.check(other)
