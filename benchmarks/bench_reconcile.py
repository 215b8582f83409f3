"""CPU cost of one reconcile, excluding REST: 1,000 assets, 500 positions, 1,000 open orders.

Run: python benchmarks/bench_reconcile.py [--assets N] [--positions N] [--orders N]
                                          [--drift 0.1] [--repeats R]
Prints JSON: medians over R repeats of CPU time (``time.process_time``) and wall time
(``time.perf_counter``), in ms, of

* ``clean``: the compare pass over a cache that agrees with the snapshot (the usual run);
* ``startup``: compare + seeding an empty cache with every entry (the first run);
* ``drift``: compare + re-check + repairs when a fraction ``--drift`` of the entries of each
  family differ (balances, positions, orders open on the exchange only, orders open in the
  cache only; the latter answered by in-memory "queries"), every repair written to the cache;
* ``baseline``: a naive pass in the same process: both sides turned into dicts of plain
  tuples and compared key by key (no event-time rule, no tolerance, no repair).

The cache has no listener (hook dispatch of repairs is the bus's cost, see bench_dispatch.py).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import orjson

from framework.cache import AccountCache
from framework.types import AccountSnapshot, Balance, Order, Position
from plugins.reconciliation.compare import Tolerances, compare, order_key
from plugins.reconciliation.repair import needs_query, seed, settle, still_suspect

T = 1_700_000_000_000
OLD = T - 60_000
TOL = Tolerances(default=Decimal("0.00000001"))


def build(
    assets: int, positions: int, orders: int
) -> tuple[list[Balance], list[Position], list[Order]]:
    """The exchange's side: distinct, realistic-looking entries, all older than T."""
    balances = [
        Balance(
            asset=f"A{i:04d}",
            wallet_balance=Decimal(f"{1000 + i}.12345678"),
            cross_wallet_balance=Decimal(f"{1000 + i}.12345678"),
            event_time=OLD + i,
            available_balance=Decimal(f"{900 + i}.5"),
        )
        for i in range(assets)
    ]
    pos = [
        Position(
            symbol=f"S{i:04d}USDT",
            side="BOTH",
            amount=Decimal(f"{(i % 7) + 1}.{i % 1000:03d}"),
            entry_price=Decimal(f"{100 + i}.25"),
            unrealized_pnl=Decimal("1.5"),
            event_time=OLD + i,
        )
        for i in range(positions)
    ]
    ords = [
        Order(
            symbol=f"S{i % max(positions, 1):04d}USDT",
            order_id=10_000_000 + i,
            client_order_id=f"tl-s1-{i}",
            side="BUY" if i % 2 else "SELL",
            type="LIMIT",
            status="NEW" if i % 3 else "PARTIALLY_FILLED",
            price=Decimal(f"{100 + i}.5"),
            orig_qty=Decimal("2.000"),
            executed_qty=Decimal("0.000") if i % 3 else Decimal("1.000"),
            event_time=OLD + i,
        )
        for i in range(orders)
    ]
    return balances, pos, ords


def cache_of(
    balances: list[Balance], positions: list[Position], orders: list[Order]
) -> AccountCache:
    cache = AccountCache()
    for b in balances:
        cache.apply_balance(b)
    for p in positions:
        cache.apply_position(p)
    for o in orders:
        cache.apply_order(o)
    return cache


def drifted(
    balances: list[Balance], positions: list[Position], orders: list[Order], fraction: float
) -> tuple[AccountCache, AccountSnapshot, dict[tuple[str, int], Order | BaseException | None]]:
    """A cache where ``fraction`` of each family differs from the snapshot (older than T)."""
    every = max(1, round(1 / fraction)) if fraction > 0 else 0
    cached_b = [
        msgspec.structs.replace(b, wallet_balance=b.wallet_balance + 1)
        if every and i % every == 0
        else b
        for i, b in enumerate(balances)
    ]
    cached_p = [
        msgspec.structs.replace(p, amount=p.amount + 1) if every and i % every == 0 else p
        for i, p in enumerate(positions)
    ]
    rest_orders: list[Order] = []
    cached_o: list[Order] = []
    answers: dict[tuple[str, int], Order | BaseException | None] = {}
    for i, o in enumerate(orders):
        kind = (i // every) % 3 if every and i % every == 0 else -1
        if kind == 0:  # open on the exchange only (the NEW was lost)
            rest_orders.append(o)
        elif kind == 1:  # open in the cache only (the fill was lost); a query finds it filled
            cached_o.append(o)
            answers[(o.symbol, o.order_id)] = msgspec.structs.replace(
                o, status="FILLED", executed_qty=o.orig_qty, event_time=o.event_time + 1
            )
        elif kind == 2:  # a partial fill the stream lost
            rest_orders.append(
                msgspec.structs.replace(o, status="PARTIALLY_FILLED", executed_qty=Decimal("1.500"))
            )
            cached_o.append(o)
        else:
            rest_orders.append(o)
            cached_o.append(o)
    snapshot = AccountSnapshot(
        balances=tuple(balances),
        positions=tuple(positions),
        open_orders=tuple(rest_orders),
        snapshot_time=T,
    )
    return cache_of(cached_b, cached_p, cached_o), snapshot, answers


def reconcile_pass(
    cache: AccountCache,
    snapshot: AccountSnapshot,
    *,
    first: bool,
    answers: dict[tuple[str, int], Order | BaseException | None],
) -> tuple[int, int, int]:
    """What the plugin does between the REST answers and the result, minus the awaits."""
    t = snapshot.snapshot_time
    comparison = compare(snapshot, cache, TOL, seed=first)
    seeded = seed(cache, comparison.seeds, t)
    cache.reconciled(t)
    suspects = comparison.suspects
    if suspects:
        asked = [
            order_key(f) for f in suspects if needs_query(f) and still_suspect(f, cache, t, TOL)
        ]
        got = {key: answers.get(key) for key in asked}
        _, mismatches = settle(suspects, cache, t, TOL, got)
        return seeded, len(suspects), len(mismatches)
    return seeded, 0, 0


def baseline(cache: AccountCache, snapshot: AccountSnapshot) -> int:
    """Naive: both sides as dicts of plain tuples, compared key by key."""
    rest_b = {b.asset: b.wallet_balance for b in snapshot.balances}
    have_b = {a: b.wallet_balance for a, b in cache.balances_view.items()}
    rest_p = {(p.symbol, p.side): (p.amount, p.entry_price) for p in snapshot.positions}
    have_p = {k: (p.amount, p.entry_price) for k, p in cache.positions_view.items()}
    rest_o = {
        (o.symbol, o.order_id): (o.status, o.executed_qty, o.orig_qty, o.price)
        for o in snapshot.open_orders
    }
    have_o = {
        k: (o.status, o.executed_qty, o.orig_qty, o.price)
        for k, o in cache.open_orders_view.items()
    }
    differ = 0
    for rest, have in ((rest_b, have_b), (rest_p, have_p), (rest_o, have_o)):
        for key in rest.keys() | have.keys():
            if rest.get(key) != have.get(key):  # type: ignore[attr-defined]
                differ += 1
    return differ


def timed(setup: Callable[[], Any], run: Callable[[Any], Any]) -> tuple[float, float, Any]:
    """CPU and wall milliseconds of ``run(setup())``, setup excluded, GC off while timing."""
    state = setup()
    gc.collect()
    gc.disable()
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        out = run(state)
        cpu1, wall1 = time.process_time(), time.perf_counter()
    finally:
        gc.enable()
    return (cpu1 - cpu0) * 1000, (wall1 - wall0) * 1000, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--positions", type=int, default=500)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--drift", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()

    balances, positions, orders = build(args.assets, args.positions, args.orders)
    clean_snapshot = AccountSnapshot(
        balances=tuple(balances),
        positions=tuple(positions),
        open_orders=tuple(orders),
        snapshot_time=T,
    )
    cases: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
        "clean": (
            lambda: cache_of(balances, positions, orders),
            lambda c: reconcile_pass(c, clean_snapshot, first=False, answers={}),
        ),
        "startup": (
            AccountCache,
            lambda c: reconcile_pass(c, clean_snapshot, first=True, answers={}),
        ),
        "drift": (
            lambda: drifted(balances, positions, orders, args.drift),
            lambda s: reconcile_pass(s[0], s[1], first=False, answers=s[2]),
        ),
        "baseline": (
            lambda: cache_of(balances, positions, orders),
            lambda c: baseline(c, clean_snapshot),
        ),
    }
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    wall: dict[str, list[float]] = {name: [] for name in cases}
    outcome: dict[str, Any] = {}
    for _ in range(args.repeats):  # interleaved, so load changes hit every case alike
        for name, (setup, run) in cases.items():
            c, w, out = timed(setup, run)
            cpu[name].append(c)
            wall[name].append(w)
            outcome[name] = out
    med = {name: round(statistics.median(v), 3) for name, v in cpu.items()}
    result = {
        "entries": {"assets": args.assets, "positions": args.positions, "orders": args.orders},
        "drift_fraction": args.drift,
        "repeats": args.repeats,
        "cpu_ms_median": med,
        "wall_ms_median": {n: round(statistics.median(v), 3) for n, v in wall.items()},
        "cpu_ms_max": {n: round(max(v), 3) for n, v in cpu.items()},
        "vs_baseline": {n: round(med[n] / med["baseline"], 2) for n in cases if n != "baseline"},
        "outcome": {
            "clean (seeded, suspects, mismatches)": outcome["clean"],
            "startup (seeded, suspects, mismatches)": outcome["startup"],
            "drift (seeded, suspects, mismatches)": outcome["drift"],
            "baseline (entries differing)": outcome["baseline"],
        },
        "target_cpu_ms": 5.0,
    }
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
