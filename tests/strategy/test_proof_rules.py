"""Proof (issue 15, exchange rules): random order requests through the strategy API against the
simulator, over real sockets: none is refused by the exchange for a filter, and every request
refused locally names its filter(s).

Three bots, each on its own simulator (its own account: ``MAX_NUM_ORDERS`` counts an account's
orders), each trading two symbols with four concurrent workers. The requests are seeded and
aimed at the edges: quantities around the minimum and off the step, prices off the tick and
around the ``PERCENT_PRICE`` band, notionals around ``MIN_NOTIONAL``, LIMIT and MARKET (the
symbols differ in tick, step, precision and, for XRPUSDT, a ``MARKET_LOT_SIZE`` step of its
own), reduce-only, ``round_to_rules`` on some. A worker that meets ``MAX_NUM_ORDERS`` cancels
the symbol's orders through the API. The simulator counts what it refused by code, so the
``0`` is read from the exchange's side too.

Run: ``.venv/bin/pytest -q -s tests/strategy/test_proof_rules.py`` (prints the ``PROOF rules``
line).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import time
from collections import Counter
from decimal import Decimal

from framework import (
    ExchangeFilterRejection,
    FilterRefused,
    OrderRequest,
    Strategy,
    StrategyOrders,
    SystemClock,
    TradeloopError,
)
from framework.rules import FILTER_NAMES
from plugins.binance.errors import BinanceAPIError
from plugins.sim import SimExchange
from plugins.sim.errors import BinanceError
from plugins.sim.filters import check_order
from plugins.sim.testing import SimBotFactory, SimFactory, until

D = Decimal
REQUESTS = 10_200
BOTS = (("BTCUSDT", "ETHUSDT"), ("XRPUSDT", "SOLUSDT"), ("BNBUSDT", "BTCUSDT"))
WORKERS = 4  # per bot, concurrent: orders on their way count toward MAX_NUM_ORDERS
MAX_ORDERS = 40  # the simulators' MAX_NUM_ORDERS, low so that the limit is met often
UNLIMITED = 10**8
SIM = {
    "balances": {"USDT": "100000000"},  # margin never binds: only filters refuse
    "weight_limit_1m": UNLIMITED,
    "order_limit_10s": UNLIMITED,
    "order_limit_1m": UNLIMITED,
    "updates_per_second": 20.0,
}
CONNECTOR = {
    "weight_limit_1m": UNLIMITED,
    "order_limit_10s": UNLIMITED,
    "order_limit_1m": UNLIMITED,
}


class Prover(Strategy):
    """Holds the instance id; the test sends through its order API (``ctx.orders``)."""


def random_request(rng: random.Random, symbol: str, sim: SimExchange) -> tuple[OrderRequest, bool]:
    """One request aimed at the filters' edges, and whether to ask for rounding."""
    spec = sim.engine.specs[symbol]
    mark = sim.engine.mark_price(symbol)
    market = rng.random() < 0.3
    lot_min = spec.lot_min_qty(market=market)
    step = spec.lot_step(market=market)
    # the minimum notional's quantity, times 0.5..3, on or off the step
    base = max(lot_min, spec.min_notional / mark)
    qty = base * D(rng.randint(50, 300)) / 100
    if rng.random() < 0.6:
        qty = (qty / step).quantize(D(1)) * step
    else:
        qty = qty.quantize(step / 10 ** rng.randint(0, 2))
    if rng.random() < 0.03:
        qty = D(0)
    if rng.random() < 0.03:
        qty = spec.lot_max_qty(market=market) + step
    price = None
    if not market:
        factor = D(rng.randint(9300, 10700)) / 10000  # the band is 0.95..1.05 of the mark
        places = spec.price_precision + rng.choice((-1, 0, 0, 1))
        price = (mark * factor).quantize(D(1).scaleb(-max(places, 0)))
    request = OrderRequest(
        symbol=symbol,
        side=rng.choice(("BUY", "SELL")),
        type="MARKET" if market else "LIMIT",
        quantity=qty,
        price=price,
        time_in_force=rng.choice(("GTC", "GTC", "GTC", "IOC")),
        reduce_only=rng.random() < 0.1,
    )
    return request, rng.random() < 0.3


def sim_accepts(sim: SimExchange, request: OrderRequest) -> bool:
    """Whether the simulator's filters would take ``request`` at its mark now (MAX_NUM_ORDERS
    aside): a local refusal it would take is a conservative one (the mark margin)."""
    try:
        check_order(
            sim.engine.specs[request.symbol],
            side=request.side,
            market=request.type == "MARKET",
            quantity=request.quantity,
            price=request.price,
            reduce_only=request.reduce_only,
            mark=sim.engine.mark_price(request.symbol),
        )
    except BinanceError:
        return False
    return True


class Tally:
    """What became of every request."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.local_by_filter: Counter[str] = Counter()
        self.exchange_filter: list[str] = []
        self.unnamed: list[str] = []
        self.conservative = 0

    @property
    def sent(self) -> int:
        return sum(self.outcomes.values())


async def worker(
    rng: random.Random,
    api: StrategyOrders,
    sim: SimExchange,
    symbols: tuple[str, ...],
    tally: Tally,
    quota: int,
) -> None:
    for _ in range(quota):
        symbol = rng.choice(symbols)
        request, rounding = random_request(rng, symbol, sim)
        try:
            await api.place(request, round_to_rules=rounding)
        except FilterRefused as exc:
            tally.outcomes["refused_locally"] += 1
            named = exc.filters and all(
                f in FILTER_NAMES and f"{f}: " in str(exc) for f in exc.filters
            )
            if not named:
                tally.unnamed.append(str(exc))
            for name in exc.filters:
                tally.local_by_filter[name] += 1
            if "MAX_NUM_ORDERS" in exc.filters:
                await api.cancel_all(symbol)
            elif not rounding and sim_accepts(sim, request):
                tally.conservative += 1
        except ExchangeFilterRejection as exc:
            tally.outcomes["refused_by_exchange_for_a_filter"] += 1
            tally.exchange_filter.append(str(exc))
        except BinanceAPIError as exc:  # refused for something else than a filter
            tally.outcomes[f"exchange_{exc.code}"] += 1
        except TradeloopError as exc:
            tally.outcomes[f"error_{type(exc).__name__}"] += 1
        else:
            tally.outcomes["accepted"] += 1


async def test_random_requests_never_reach_the_exchange_breaking_a_filter(
    sim_factory: SimFactory, sim_bot: SimBotFactory
) -> None:
    tally = Tally()
    sims: list[SimExchange] = []
    started = time.perf_counter()
    runs = []
    quota = -(-REQUESTS // (len(BOTS) * WORKERS))
    for index, symbols in enumerate(BOTS):
        sim = await sim_factory(seed=100 + index, symbols=list(dict.fromkeys(symbols)), **SIM)
        for symbol, spec in list(sim.engine.specs.items()):
            sim.engine.specs[symbol] = dataclasses.replace(spec, max_num_orders=MAX_ORDERS)
        sims.append(sim)
        bot = await sim_bot(
            sim=sim,
            clock=SystemClock(),
            binance=CONNECTOR,
            overrides={"strategies": [{"id": "p", "use": f"{__name__}:Prover"}]},
        )
        await until(lambda bot=bot, s=symbols: all(x in bot.ctx.last_ticks for x in s))
        api = bot.ctx.orders("p")
        runs += [
            worker(random.Random(1000 * index + w), api, sim, symbols, tally, quota)
            for w in range(WORKERS)
        ]
    await asyncio.gather(*runs)
    seconds = time.perf_counter() - started
    exchange_filter_codes = sum(s.engine.refusals.filters for s in sims)
    figures = {
        "requests": tally.sent,
        "accepted": tally.outcomes["accepted"],
        "refused_locally": tally.outcomes["refused_locally"],
        "refused_by_exchange_for_a_filter": len(tally.exchange_filter),
        "simulator_filter_refusals": exchange_filter_codes,
        "local_by_filter": dict(sorted(tally.local_by_filter.items())),
        "local_conservative": tally.conservative,
        "other_outcomes": {
            k: v
            for k, v in sorted(tally.outcomes.items())
            if k not in ("accepted", "refused_locally", "refused_by_exchange_for_a_filter")
        },
        "bots": len(BOTS),
        "seconds": round(seconds, 1),
    }
    print("PROOF rules:", json.dumps(figures, sort_keys=True))
    assert tally.sent >= 10_000
    assert tally.exchange_filter == []
    assert exchange_filter_codes == 0
    assert tally.unnamed == []
    assert tally.outcomes["accepted"] >= 2_000
    assert set(tally.local_by_filter) >= {
        "PRICE_FILTER",
        "LOT_SIZE",
        "MARKET_LOT_SIZE",
        "MIN_NOTIONAL",
        "PERCENT_PRICE",
        "MAX_NUM_ORDERS",
    }
