"""Identity proof (issue 13): no intent executes twice, and no order is reported that the
exchange never made for it, across restarts and unknown outcomes.

For each seed, one simulator on a ``ManualClock`` and ``RUNS`` runs of a fresh connector, each
a new process on a new host: nothing of an earlier run survives (no state file, lost, truncated
or damaged: there is none). Each run places ``STEPS`` orders (market and resting limit orders
of two strategy instances) while the simulator answers order placements 503 "Unknown error"
(half of them executed), fails REST requests with 5xx, drops user events (so the stream cannot
settle an outcome) and hides accepted orders from order queries for up to 0.9 s and one lookup
(``late_order_rate``; below the connector's ``not_found_spacing`` of 1 s, the documented limit).
The test moves the clock while the connector waits, so spaced queries happen in simulated time.
Between runs resting orders are cancelled (their ids become closed namesakes) and time passes.

An intent is one ``place`` call; its exchange orders are the ones the simulator made while
that call ran (calls run one at a time). Per intent: ``double`` = more than one exchange order;
``phantom`` = reported placed, but the returned order is not one the exchange made for it;
``lost`` = refused with a definite error, yet an order exists; ``reused`` = its client order id
was used by an earlier intent. Each must be 0 over every seed.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import pytest

from framework import ManualClock
from framework.types import OrderRequest
from plugins.binance import BinanceConnector, BinanceError, Endpoints, UnknownOrderOutcomeError
from plugins.sim import SimExchange
from plugins.sim.testing import SimFactory, fast_binance_config

from .helpers import OwnerOrders, RecordingSink

SEEDS = range(64)
RUNS = 3
STEPS = 6
OWNERS = ("grid1", "meanrev-with-a-rather-long-instance-name")
QTY = {"BTCUSDT": Decimal("0.002"), "ETHUSDT": Decimal("0.02")}
CONFIG = fast_binance_config(not_found_spacing=1.0, resolve_attempts=6)
NO_FAULTS = {
    "unknown_order_outcome_rate": 0.0,
    "rest_error_rate": 0.0,
    "late_order_rate": 0.0,
    "drop_user_events": 0.0,
}


@dataclass
class Intent:
    run: int
    client_order_id: str | None
    outcome: str  # placed, unknown, or the error's name
    returned: int | None  # the order id reported as placed
    made: list[int]  # the order ids the exchange made while the call ran


def request_for(rng: random.Random, sim: SimExchange) -> OrderRequest:
    symbol = rng.choice(tuple(QTY))
    side = rng.choice(("BUY", "SELL"))
    if rng.random() < 0.6:
        return OrderRequest(symbol=symbol, side=side, type="MARKET", quantity=QTY[symbol])  # type: ignore[arg-type]
    quote = sim.engine.quote(symbol)
    tick = sim.engine.specs[symbol].tick_size * rng.randint(5, 50)
    price = quote.bid - tick if side == "BUY" else quote.ask + tick  # rests
    return OrderRequest(
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        type="LIMIT",
        quantity=QTY[symbol],
        price=price,
    )


def connector_for(sim: SimExchange, clock: ManualClock, seed: int) -> BinanceConnector:
    """A new process: a fresh connector, on the simulator's clock."""
    return BinanceConnector(
        endpoints=Endpoints(sim.rest_url, sim.ws_url, True),
        api_key=sim.settings.api_key,
        api_secret=sim.settings.api_secret,
        config=CONFIG,
        symbols=tuple(QTY),
        sink=RecordingSink(),
        emit_tick=lambda tick: None,
        on_status=lambda status: None,
        wall_time=clock.time,
        exchange_time=clock.time,
        sleep=clock.sleep,
        rng=random.Random(seed),
    )


async def place(
    connector: BinanceConnector, clock: ManualClock, owner: str, request: OrderRequest
) -> tuple[str | None, str, int | None]:
    """Place one order, moving the clock while the connector waits on it."""
    task = asyncio.ensure_future(OwnerOrders(connector, owner).place(request))
    while not task.done():
        if clock.sleepers:
            await clock.advance(0.1)
        else:
            await asyncio.wait((task,), timeout=0.002)
    try:
        order = task.result()
    except UnknownOrderOutcomeError as exc:
        return exc.client_order_id, "unknown", None
    except BinanceError as exc:
        return None, type(exc).__name__, None
    return order.client_order_id, "placed", order.order_id


@pytest.mark.parametrize("seed", SEEDS)
async def test_no_intent_executes_twice_and_no_order_is_a_phantom(
    seed: int, sim_factory: SimFactory
) -> None:
    rng = random.Random(seed)
    clock = ManualClock()
    sim = await sim_factory(
        clock=clock.time,
        seed=seed,
        updates_per_second=0,
        late_order_seconds=rng.choice([0.0, 0.3, 0.6, 0.9]),
        late_order_queries=rng.choice([0, 1]),
    )
    faults = {
        "unknown_order_outcome_rate": rng.choice([0.2, 0.3, 0.5]),
        "rest_error_rate": rng.choice([0.0, 0.1, 0.2]),
        "late_order_rate": rng.choice([0.3, 0.6, 1.0]),
        "drop_user_events": rng.choice([0.3, 0.7, 1.0]),
    }
    intents: list[Intent] = []
    stats: Counter[str] = Counter()
    for run in range(RUNS):
        connector = connector_for(sim, clock, seed * RUNS + run)
        try:
            await connector.start(market_data=False)
            sim.set_faults(**faults)
            for _ in range(STEPS):
                request = request_for(rng, sim)
                before = sim.engine.next_order_id
                cid, outcome, returned = await place(connector, clock, rng.choice(OWNERS), request)
                made = list(range(before, sim.engine.next_order_id))
                intents.append(Intent(run, cid, outcome, returned, made))
            sim.set_faults(**NO_FAULTS)
            stats.update(connector.stats()["order_api"])
        finally:
            sim.set_faults(**NO_FAULTS)
            await connector.close()
        for symbol in QTY:  # resting orders end; their ids stay on the exchange as closed
            sim.cancel_all(symbol)
        await clock.advance(rng.choice([1.0, 30.0, 3600.0]))  # the restart takes a while

    seen: set[str] = set()
    reused = 0
    for intent in intents:
        if intent.client_order_id is not None:
            reused += intent.client_order_id in seen
            seen.add(intent.client_order_id)
    double = sum(len(i.made) > 1 for i in intents)
    phantom = sum(i.outcome == "placed" and i.returned not in i.made for i in intents)
    lost = sum(i.outcome not in ("placed", "unknown") and bool(i.made) for i in intents)
    outcomes = Counter(i.outcome for i in intents)
    counts = sim.fault_counts()
    print(  # the figures of the proof (pytest -s)
        f"PROOF-IDENTITY seed={seed} runs={RUNS} intents={len(intents)} "
        f"placed={outcomes['placed']} unknown={outcomes['unknown']} "
        f"refused={len(intents) - outcomes['placed'] - outcomes['unknown']} "
        f"exchange_orders={sum(len(i.made) for i in intents)} "
        f"unknown_outcomes={stats['unknown_outcomes']} resent={stats['resent']} "
        f"namesakes={stats['namesakes']} late_hidden={counts['late_order_hidden']} "
        f"double_orders={double} phantom_orders={phantom} lost_orders={lost} reused_ids={reused}"
    )
    assert (double, phantom, lost, reused) == (0, 0, 0, 0), intents
