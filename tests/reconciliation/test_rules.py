"""The comparison and repair rules on a real AccountCache, without I/O (docs/reconciliation.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from framework.cache import AccountCache
from framework.types import AccountSnapshot, Mismatch, Order
from plugins.reconciliation.compare import Comparison, Tolerances, compare, order_key
from plugins.reconciliation.repair import OrderAnswers, needs_query, seed, settle, still_suspect

from .entries import AFTER, BEFORE, T, bal, order, pos, snapshot

TOL = Tolerances(
    default=Decimal("0.00000001"),
    per_asset={"USDT": Decimal("0.01")},
    entry_price=Decimal("0.000001"),
)


@dataclass
class Pass:
    """What one reconcile pass did, run the way the plugin runs it (minus I/O and waiting)."""

    first: Comparison
    seeded: int
    in_flight: int
    mismatches: list[Mismatch]
    asked: list[tuple[str, int]] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return sorted(m.kind for m in self.mismatches)


def run_pass(
    cache: AccountCache,
    snap: AccountSnapshot,
    *,
    first_run: bool = False,
    meanwhile: Callable[[], None] | None = None,
    answers: OrderAnswers | None = None,
) -> Pass:
    """compare -> seed -> reconciled -> (confirm_delay: ``meanwhile``) -> queries -> settle."""
    t = snap.snapshot_time
    comparison = compare(snap, cache, TOL, seed=first_run)
    seeded = seed(cache, comparison.seeds, t)
    cache.reconciled(t)
    if meanwhile is not None:
        meanwhile()
    suspects = comparison.suspects
    asked = [order_key(f) for f in suspects if needs_query(f) and still_suspect(f, cache, t, TOL)]
    in_flight, mismatches = settle(suspects, cache, t, TOL, answers or {})
    return Pass(comparison, seeded, comparison.in_flight + in_flight, mismatches, asked)


# ---------------------------------------------------------------------------- agreement


def test_a_cache_that_matches_reports_nothing() -> None:
    cache = AccountCache()
    cache.apply_balance(bal("USDT", "100", BEFORE))
    cache.apply_position(pos("BTCUSDT", "0.010", "65000", BEFORE))
    cache.apply_order(order(1, BEFORE))
    snap = snapshot(
        (bal("USDT", "100.000", BEFORE), bal("BNB", "0", 0)),
        (pos("BTCUSDT", "0.01", "65000.0", BEFORE), pos("ETHUSDT", "0", "0", 0)),
        (order(1, BEFORE),),
    )
    done = run_pass(cache, snap)
    assert done.mismatches == []
    assert done.first.suspects == []
    assert done.in_flight == 0
    assert done.seeded == 1  # BNB: a balance the exchange holds none of is loaded, not drift


def test_balance_within_its_asset_tolerance_is_not_drift() -> None:
    cache = AccountCache()
    cache.apply_balance(bal("USDT", "100.00", BEFORE))
    cache.apply_balance(bal("BTC", "1.00000000", BEFORE))
    done = run_pass(cache, snapshot((bal("USDT", "100.01", BEFORE), bal("BTC", "1.00000002", 0))))
    assert [(m.kind, m.key) for m in done.mismatches] == [("balance_amount", "BTC")]


def test_entry_price_within_the_relative_tolerance_is_not_drift() -> None:
    cache = AccountCache()
    cache.apply_position(pos("BTCUSDT", "1", "65000", BEFORE))
    cache.apply_position(pos("ETHUSDT", "1", "3500", BEFORE))
    snap = snapshot(
        positions=(pos("BTCUSDT", "1", "65000.01", BEFORE), pos("ETHUSDT", "1", "3501", BEFORE))
    )
    done = run_pass(cache, snap)
    assert [(m.kind, m.key) for m in done.mismatches] == [("position_amount", "ETHUSDT:BOTH")]


# ------------------------------------------------------------------------------ seeding


def test_first_run_seeds_an_empty_cache_stamped_with_the_snapshot_time() -> None:
    cache = AccountCache()
    snap = snapshot(
        (bal("USDT", "100", 5), bal("BNB", "0", 0)),
        (pos("BTCUSDT", "0.01", "65000", 5), pos("ETHUSDT", "0", "0", 0)),
        (order(1, 5), order(2, AFTER)),
    )
    done = run_pass(cache, snap, first_run=True)
    assert done.mismatches == []
    assert done.seeded == 5  # two balances, one open position, two orders
    assert cache.balances_view["USDT"].event_time == T
    assert cache.positions_view[("BTCUSDT", "BOTH")].amount == Decimal("0.01")
    assert set(cache.open_orders_view) == {("BTCUSDT", 1), ("BTCUSDT", 2)}
    assert {o.event_time for o in cache.open_orders_view.values()} == {T}


def test_after_the_first_run_a_missing_entry_is_drift() -> None:
    cache = AccountCache()
    cache.apply_balance(bal("USDT", "100", BEFORE))
    snap = snapshot(
        (bal("USDT", "100", BEFORE), bal("BTC", "0.5", BEFORE)),
        (pos("BTCUSDT", "0.01", "65000", BEFORE),),
        (order(1, BEFORE),),
    )
    done = run_pass(cache, snap)
    assert done.kinds() == ["balance_missing", "order_missing", "position_missing"]
    assert all(m.repaired and m.cache_value is None for m in done.mismatches)
    assert cache.balances_view["BTC"].wallet_balance == Decimal("0.5")


# ------------------------------------------------------------------------------- in flight


def test_cache_entries_changed_at_or_after_the_snapshot_are_in_flight_and_kept() -> None:
    cache = AccountCache()
    cache.apply_balance(bal("USDT", "90", T))  # exactly T counts as after
    cache.apply_position(pos("BTCUSDT", "0.02", "65000", AFTER))
    cache.apply_order(order(1, AFTER, "PARTIALLY_FILLED", "0.5"))
    cache.apply_order(order(2, AFTER))  # placed after the snapshot: not on REST yet
    snap = snapshot(
        (bal("USDT", "100", BEFORE),),
        (pos("BTCUSDT", "0.01", "65000", BEFORE),),
        (order(1, BEFORE),),
    )
    done = run_pass(cache, snap)
    assert done.mismatches == []
    assert done.first.suspects == []
    assert done.in_flight == 4
    assert cache.balances_view["USDT"].wallet_balance == Decimal("90")
    assert cache.positions_view[("BTCUSDT", "BOTH")].amount == Decimal("0.02")
    assert ("BTCUSDT", 2) in cache.open_orders_view


def test_exchange_entries_updated_at_or_after_the_snapshot_are_in_flight() -> None:
    cache = AccountCache()
    cache.apply_balance(bal("USDT", "100", BEFORE))
    cache.apply_position(pos("BTCUSDT", "0.01", "65000", BEFORE))
    cache.apply_order(order(1, BEFORE))
    snap = snapshot(
        (bal("USDT", "95", AFTER),),
        (pos("BTCUSDT", "0", "0", AFTER), pos("ETHUSDT", "1", "3500", AFTER)),
        (order(1, AFTER, "PARTIALLY_FILLED", "0.5"), order(2, AFTER)),
    )
    done = run_pass(cache, snap)
    assert done.mismatches == []
    assert done.in_flight == 5
    assert cache.balances_view["USDT"].wallet_balance == Decimal("100")


def test_a_position_closed_in_the_cache_after_the_snapshot_is_in_flight() -> None:
    cache = AccountCache()
    cache.apply_position(pos("BTCUSDT", "0.01", "65000", BEFORE))
    cache.apply_position(pos("BTCUSDT", "0", "0", AFTER))
    done = run_pass(cache, snapshot(positions=(pos("BTCUSDT", "0.01", "65000", BEFORE),)))
    assert done.mismatches == []
    assert done.in_flight == 1


def test_a_suspect_the_stream_resolves_during_the_delay_is_in_flight() -> None:
    """REST already shows a fill whose events (older than T) were still on their way."""
    cache = AccountCache()
    cache.apply_balance(bal("USDT", "100", BEFORE))
    cache.apply_order(order(1, BEFORE))
    snap = snapshot(
        (bal("USDT", "99.5", BEFORE + 10),),
        (pos("BTCUSDT", "1", "100", BEFORE + 10),),
        (order(1, BEFORE + 10, "PARTIALLY_FILLED", "1", qty="2"),),
    )

    def events_arrive() -> None:
        cache.apply_order(order(1, BEFORE + 10, "PARTIALLY_FILLED", "1", qty="2"))
        cache.apply_balance(bal("USDT", "99.5", BEFORE + 10))
        cache.apply_position(pos("BTCUSDT", "1", "100", BEFORE + 10))

    done = run_pass(cache, snap, meanwhile=events_arrive)
    assert len(done.first.suspects) == 3
    assert done.mismatches == []
    assert done.in_flight == 3


def test_a_suspect_changed_after_the_snapshot_during_the_delay_is_in_flight() -> None:
    cache = AccountCache()
    cache.apply_balance(bal("USDT", "100", BEFORE))
    snap = snapshot((bal("USDT", "99", BEFORE),))
    done = run_pass(cache, snap, meanwhile=lambda: cache.apply_balance(bal("USDT", "98", AFTER)))
    assert done.mismatches == []
    assert cache.balances_view["USDT"].wallet_balance == Decimal("98")  # never overwritten


def test_a_late_update_that_still_differs_is_drift() -> None:
    """A late event older than T arrived, but REST shows a later change the stream lost."""
    cache = AccountCache()
    cache.apply_balance(bal("USDT", "100", BEFORE))
    snap = snapshot((bal("USDT", "98", BEFORE + 20),))
    done = run_pass(
        cache, snap, meanwhile=lambda: cache.apply_balance(bal("USDT", "99", BEFORE + 10))
    )
    [m] = done.mismatches
    assert (m.cache_value, m.exchange_value, m.cache_time) == ("100", "98", BEFORE)
    assert cache.balances_view["USDT"] == bal("USDT", "98", T)


def test_late_updates_are_kept_out_of_the_cache_but_settle_suspects() -> None:
    """After the compare the cache refuses updates older than T: a suspect they explain is in
    flight and catches up with them; every other entry keeps agreeing with REST."""
    cache = AccountCache()
    cache.apply_balance(bal("USDT", "100", BEFORE))
    cache.apply_balance(bal("BNB", "1", BEFORE))
    cache.apply_order(order(1, BEFORE))
    snap = snapshot((bal("USDT", "99", BEFORE + 10), bal("BNB", "1", BEFORE + 8)))

    def late_events() -> None:
        assert not cache.apply_balance(bal("USDT", "99", BEFORE + 10))
        assert not cache.apply_balance(bal("BNB", "2", BEFORE + 5))  # 1 -> 2 -> 1 before T
        assert not cache.apply_order(order(1, BEFORE + 10, "FILLED", "1"))
        assert not cache.apply_order(order(3, BEFORE + 5))  # placed and closed before T

    done = run_pass(cache, snap, meanwhile=late_events)
    assert done.mismatches == []
    assert done.asked == []  # the late FILLED settled order 1: no query
    assert done.in_flight == 2
    assert cache.balances_view["USDT"] == bal("USDT", "99", T)
    assert cache.balances_view["BNB"].wallet_balance == 1
    last = cache.order("BTCUSDT", 1)
    assert last is not None
    assert (last.status, last.event_time) == ("FILLED", T)
    assert cache.open_orders_view == {}


def test_the_cache_ahead_of_a_lagging_rest_answer_is_not_drift() -> None:
    """Fills only grow and a closed order never reopens: REST behind the stream is lag."""
    cache = AccountCache()
    cache.apply_order(order(1, BEFORE, "PARTIALLY_FILLED", "0.5"))
    cache.apply_order(order(2, BEFORE))
    cache.apply_order(order(2, BEFORE + 1, "FILLED", "1"))
    snap = snapshot(orders=(order(1, BEFORE - 5), order(2, BEFORE - 5)))
    done = run_pass(cache, snap)
    assert done.mismatches == []
    assert done.in_flight == 2
    assert cache.open_orders_view[("BTCUSDT", 1)].executed_qty == Decimal("0.5")
    assert ("BTCUSDT", 2) not in cache.open_orders_view


# ------------------------------------------------------------------------------- repairs


def test_drift_is_repaired_stamped_with_the_snapshot_time_so_newer_stream_updates_win() -> None:
    cache = AccountCache()
    cache.apply_balance(bal("USDT", "100", BEFORE))
    cache.apply_position(pos("BTCUSDT", "0.01", "65000", BEFORE))
    cache.apply_position(pos("ETHUSDT", "1", "3500", BEFORE))
    snap = snapshot(
        (bal("USDT", "97", BEFORE),),
        (pos("BTCUSDT", "0.02", "65100", BEFORE), pos("ETHUSDT", "0", "0", BEFORE)),
    )
    done = run_pass(cache, snap)
    assert done.kinds() == ["balance_amount", "position_amount", "position_closed_on_exchange"]
    by_kind = {m.kind: m for m in done.mismatches}
    usdt = by_kind["balance_amount"]
    assert (usdt.cache_value, usdt.exchange_value) == ("100", "97")
    assert (usdt.cache_time, usdt.exchange_time) == (BEFORE, BEFORE)
    assert by_kind["position_amount"].exchange_value == "amount=0.02 entry_price=65100"
    assert all(m.repaired for m in done.mismatches)
    assert cache.balances_view["USDT"] == bal("USDT", "97", T)
    assert cache.positions_view[("BTCUSDT", "BOTH")].event_time == T
    assert ("ETHUSDT", "BOTH") not in cache.positions_view
    # a late stream update older than the snapshot is ignored; a newer one wins
    assert not cache.apply_balance(bal("USDT", "100", BEFORE + 1))
    assert cache.apply_balance(bal("USDT", "96", T + 1))


def test_a_balance_the_exchange_does_not_list_is_repaired_to_zero() -> None:
    cache = AccountCache()
    cache.apply_balance(bal("BNB", "2", BEFORE))
    cache.apply_balance(bal("ETH", "0", BEFORE))
    done = run_pass(cache, snapshot())
    [m] = done.mismatches
    assert (m.kind, m.key, m.exchange_value) == ("balance_extra", "BNB", None)
    assert cache.balances_view["BNB"].wallet_balance == 0


def test_an_open_order_with_another_state_on_the_exchange_is_repaired() -> None:
    cache = AccountCache()
    cache.apply_order(order(1, BEFORE))
    done = run_pass(cache, snapshot(orders=(order(1, BEFORE + 1, "PARTIALLY_FILLED", "0.4"),)))
    [m] = done.mismatches
    assert m.kind == "order_state"
    assert m.key == "BTCUSDT:1 (tl-s-1)"
    assert m.cache_value == "NEW executed=0/1 price=100"
    assert cache.open_orders_view[("BTCUSDT", 1)].executed_qty == Decimal("0.4")


@pytest.mark.parametrize(
    ("answer", "kind", "status"),
    [
        (order(1, BEFORE + 3, "FILLED", "1"), "order_extra", "FILLED"),
        (order(1, BEFORE + 3, "CANCELED", "0.5"), "order_extra", "CANCELED"),
        (None, "order_extra", "CANCELED"),  # the exchange forgot it
    ],
)
def test_an_order_gone_from_the_exchange_is_closed_with_the_status_a_query_finds(
    answer: Order | None, kind: str, status: str
) -> None:
    cache = AccountCache()
    cache.apply_order(order(1, BEFORE))
    done = run_pass(cache, snapshot(), answers={("BTCUSDT", 1): answer})
    assert done.asked == [("BTCUSDT", 1)]
    [m] = done.mismatches
    assert (m.kind, m.repaired) == (kind, True)
    assert ("BTCUSDT", 1) not in cache.open_orders_view
    last = cache.order("BTCUSDT", 1)
    assert last is not None
    assert (last.status, last.event_time) == (status, T)


def test_an_order_query_that_shows_it_open_or_changed_after_the_snapshot_is_not_drift() -> None:
    cache = AccountCache()
    cache.apply_order(order(1, BEFORE))
    cache.apply_order(order(2, BEFORE))
    answers: OrderAnswers = {
        ("BTCUSDT", 1): order(1, BEFORE),  # still open: the list was behind
        ("BTCUSDT", 2): order(2, AFTER, "FILLED", "1"),  # closed after the snapshot
    }
    done = run_pass(cache, snapshot(), answers=answers)
    assert done.mismatches == []
    assert done.in_flight == 2
    assert len(cache.open_orders_view) == 2


def test_an_order_that_could_not_be_queried_is_reported_unrepaired() -> None:
    cache = AccountCache()
    cache.apply_order(order(1, BEFORE))
    cache.apply_order(order(2, BEFORE))
    done = run_pass(cache, snapshot(), answers={("BTCUSDT", 1): TimeoutError("slow")})
    assert done.kinds() == ["order_extra", "order_extra"]
    assert not any(m.repaired for m in done.mismatches)
    assert len(cache.open_orders_view) == 2  # left for the next run


def test_after_a_pass_late_updates_older_than_the_snapshot_are_stale_everywhere() -> None:
    """A late NEW of an order whose close the stream lost must not reopen it afterwards."""
    cache = AccountCache()
    cache.apply_balance(bal("USDT", "100", BEFORE))
    run_pass(cache, snapshot((bal("USDT", "100", BEFORE),)))
    assert not cache.apply_order(order(7, BEFORE + 1))  # unknown to the cache, closed on REST
    assert not cache.apply_position(pos("ETHUSDT", "1", "3500", BEFORE + 1))
    assert not cache.apply_balance(bal("BNB", "1", BEFORE + 1))
    assert cache.stats.stale_ignored == 3
    assert cache.apply_order(order(8, T))  # at or after the snapshot: news
    assert set(cache.open_orders_view) == {("BTCUSDT", 8)}
