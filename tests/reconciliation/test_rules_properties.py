"""Properties of one reconcile pass over random caches and snapshots (Hypothesis).

For any cache and any REST snapshot at time T, with the cache left alone during the pass:
* an entry the cache changed at or after T is never overwritten;
* an entry the exchange changed at or after T is never compared;
* every other entry ends equal to REST (unless the cache is ahead of a lagging REST answer);
* a mismatch is reported only for an entry that differed, and every one is repaired.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from framework.cache import AccountCache
from framework.types import Balance, Order, Position
from framework.types import order_progress as progress
from plugins.reconciliation.compare import same_order

from .entries import T, bal, order, pos, snapshot
from .test_rules import run_pass

ASSETS = ("USDT", "BTC", "BNB")
SYMBOLS = ("BTCUSDT", "ETHUSDT")
ORDER_IDS = (1, 2, 3, 4)

times = st.one_of(
    st.integers(min_value=T - 10_000, max_value=T - 1).map(lambda t: ("old", t)),
    st.integers(min_value=T, max_value=T + 10_000).map(lambda t: ("new", t)),
)
money = st.sampled_from(["0", "1", "2.5", "100"])
amounts = st.sampled_from(["0", "0.01", "-0.02"])
entries = st.sampled_from(["100", "101"])
open_states = st.sampled_from(
    [("NEW", "0"), ("PARTIALLY_FILLED", "0.5"), ("PARTIALLY_FILLED", "1")]
)
closed_states = st.sampled_from([("FILLED", "2"), ("CANCELED", "0"), ("CANCELED", "1")])


def maybe(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), inner)


balance_cases = st.tuples(maybe(st.tuples(money, times)), maybe(st.tuples(money, times)))
position_cases = st.tuples(
    maybe(st.tuples(amounts, entries, times)), maybe(st.tuples(amounts, entries, times))
)
order_cases = st.tuples(
    maybe(st.tuples(open_states, times)),  # REST: open, or not listed
    maybe(st.tuples(st.one_of(open_states, closed_states), times)),  # cache: last state
    maybe(closed_states),  # what a query finds when REST does not list it (None: unknown)
)


def _o(oid: int, state: tuple[str, str], t: int) -> Order:
    return order(oid, t, state[0], state[1], qty="2")


@settings(max_examples=300, deadline=None)
@given(
    balances=st.tuples(*[balance_cases] * len(ASSETS)),
    positions=st.tuples(*[position_cases] * len(SYMBOLS)),
    orders=st.tuples(*[order_cases] * len(ORDER_IDS)),
)
def test_one_pass_repairs_every_old_difference_and_nothing_else(
    balances: tuple[Any, ...], positions: tuple[Any, ...], orders: tuple[Any, ...]
) -> None:
    cache = AccountCache()
    rest_b: list[Balance] = []
    rest_p: list[Position] = []
    rest_o: list[Order] = []
    answers: dict[tuple[str, int], Order | BaseException | None] = {}

    for asset, (rest, cached) in zip(ASSETS, balances, strict=True):
        if rest is not None:
            rest_b.append(bal(asset, rest[0], rest[1][1]))
        if cached is not None:
            cache.apply_balance(bal(asset, cached[0], cached[1][1]))
    for symbol, (rest, cached) in zip(SYMBOLS, positions, strict=True):
        if rest is not None:
            rest_p.append(pos(symbol, rest[0], rest[1] if rest[0] != "0" else "0", rest[2][1]))
        if cached is not None and cached[0] != "0":
            cache.apply_position(pos(symbol, cached[0], cached[1], cached[2][1]))
    for oid, (rest, cached, final) in zip(ORDER_IDS, orders, strict=True):
        if rest is not None:
            rest_o.append(_o(oid, rest[0], rest[1][1]))
        if cached is not None:
            cache.apply_order(_o(oid, cached[0], cached[1][1]))
        answers[("BTCUSDT", oid)] = None if final is None else _o(oid, final, T - 1)

    before_b = dict(cache.balances_view)
    before_p = dict(cache.positions_view)
    before_o = {oid: cache.order("BTCUSDT", oid) for oid in ORDER_IDS}
    done = run_pass(cache, snapshot(tuple(rest_b), tuple(rest_p), tuple(rest_o)), answers=answers)
    reported = {m.key for m in done.mismatches}
    assert all(m.repaired for m in done.mismatches)

    # balances
    for asset, (rest, cached) in zip(ASSETS, balances, strict=True):
        now = cache.balances_view.get(asset)
        if cached is not None and cached[1][0] == "new":
            assert now == before_b[asset]
            assert asset not in reported
            continue
        if rest is not None and rest[1][0] == "new" and (cached is not None or rest[0] != "0"):
            assert now == before_b.get(asset)  # in flight (a zero balance is simply loaded)
            assert asset not in reported
            continue
        want = Decimal(rest[0]) if rest is not None else Decimal(0)
        had = Decimal(cached[0]) if cached is not None else None
        got = now.wallet_balance if now is not None else None
        if had is None and rest is None:
            assert now is None
        elif had is None:
            assert got == want  # seeded (zero) or repaired (balance_missing)
            assert (asset in reported) == (want != 0)
        else:
            assert got == want
            assert (asset in reported) == (had != want)

    # positions
    for symbol, (rest, cached) in zip(SYMBOLS, positions, strict=True):
        key = f"{symbol}:BOTH"
        now_p = cache.positions_view.get((symbol, "BOTH"))
        cached_open = cached is not None and cached[0] != "0"
        if cached_open and cached[2][0] == "new":
            assert now_p == before_p[(symbol, "BOTH")]
            assert key not in reported
            continue
        if rest is not None and rest[2][0] == "new":
            assert now_p == before_p.get((symbol, "BOTH"))
            assert key not in reported
            continue
        want_amount = Decimal(rest[0]) if rest is not None else Decimal(0)
        got_amount = now_p.amount if now_p is not None else Decimal(0)
        assert got_amount == want_amount
        had = (Decimal(cached[0]), Decimal(cached[1])) if cached_open else (Decimal(0), None)
        want = (want_amount, Decimal(rest[1]) if rest is not None and want_amount else None)
        if want_amount:
            assert now_p is not None
            assert now_p.entry_price == want[1]
        assert (key in reported) == (had != want)

    # orders
    for oid, (rest, cached, final) in zip(ORDER_IDS, orders, strict=True):
        key = f"BTCUSDT:{oid} (tl-s-{oid})"
        last = cache.order("BTCUSDT", oid)
        held = before_o[oid]
        if held is not None and cached is not None and cached[1][0] == "new":
            assert last == held
            assert key not in reported
            continue
        if rest is not None:
            x = _o(oid, rest[0], rest[1][1])
            if rest[1][0] == "new" or (held is not None and not held.is_open):
                assert last == held  # in flight, or REST lagging behind a closed order
                assert key not in reported
            elif held is not None and progress(held) > progress(x):
                assert last == held  # REST lagging behind the cache's fills
                assert key not in reported
            else:
                assert last is not None
                assert last.is_open
                assert same_order(last, x)
                assert (key in reported) == (held is None or not same_order(held, x))
        elif held is not None and held.is_open:
            assert last is not None
            assert not last.is_open  # closed by the query's answer
            want_status = final[0] if final is not None else "CANCELED"
            assert last.status == want_status
            assert key in reported
        else:
            assert last == held
            assert key not in reported
