"""Proof (issue 15, exchange rules): random order requests through the strategy API against the
simulator, over real sockets: none is refused by the exchange for a filter, and every request
refused locally names its filter(s).

Three bots, each on its own simulator (its own account: ``MAX_NUM_ORDERS`` counts an account's
orders), each trading two symbols with four concurrent workers. The requests are seeded and
aimed at the edges: quantities around the minimum and off the step, prices off the tick and
around the ``PERCENT_PRICE`` band, notionals around ``MIN_NOTIONAL``, LIMIT and MARKET (the
symbols differ in tick, step, precision and, for XRPUSDT, a ``MARKET_LOT_SIZE`` step of its
own), reduce-only, ``round_to_rules`` on some, and a few around the position cap the leverage
brackets allow at the account's 125x (50,000 of notional: -2027 on Binance). A worker that meets
``MAX_NUM_ORDERS`` cancels the symbol's orders through the API; one that meets the position
cap (``LEVERAGE_BRACKET``) closes the symbol's position with a reduce-only order.

A fourth bot trades on a simulator whose book only moves when the test moves it, one worker: now
and then the book is made wider than the ``PERCENT_PRICE`` band on both sides (as a thin venue's
can be), so MARKET orders meet Binance's -4131 case (the counterparty's best price outside the
band); the worker waits until the bot has seen each new book, so the local check and the
exchange judge the same book. The simulator counts what it refused by code, so the ``0`` is read
from the exchange's side too.

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
from collections.abc import Mapping
from decimal import Decimal

from framework import (
    ExchangeFilterRejection,
    FilterRefused,
    OrderRequest,
    Strategy,
    StrategyOrders,
    SystemClock,
    Tick,
    TradeloopError,
)
from framework.cache import AccountView
from framework.rules import FILTER_NAMES
from plugins.binance.errors import BinanceAPIError
from plugins.sim import SimExchange
from plugins.sim.errors import BinanceError
from plugins.sim.filters import check_order
from plugins.sim.testing import SimBotFactory, SimFactory, until

D = Decimal
REQUESTS = 10_200
BOTS = (("BTCUSDT", "ETHUSDT"), ("XRPUSDT", "SOLUSDT"), ("BNBUSDT", "BTCUSDT"))
BOOK_SYMBOLS = ("BTCUSDT", "ETHUSDT")  # the fourth bot's, on a book the test moves
BOOK_REQUESTS = 1_200
BOOK_EVERY = 20  # requests between two new books
LEVERAGE = 125  # the brackets allow 50,000 of position notional at it
WORKERS = 4  # per bot, concurrent: orders on their way count toward MAX_NUM_ORDERS
MAX_ORDERS = 40  # the simulators' MAX_NUM_ORDERS, low so that the limit is met often
UNLIMITED = 10**8
SIM = {
    "balances": {"USDT": "100000000"},  # margin never binds: only filters refuse
    "weight_limit_1m": UNLIMITED,
    "order_limit_10s": UNLIMITED,
    "order_limit_1m": UNLIMITED,
    "updates_per_second": 20.0,
    "leverage": LEVERAGE,
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
    if rng.random() < 0.04:  # around the leverage bracket's position cap
        qty = (D(50_000) / mark * D(rng.randint(20, 150)) / 100 / step).quantize(D(1)) * step
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
    """Whether the simulator's filters would take ``request`` at its mark and book now
    (MAX_NUM_ORDERS and the position cap aside): a local refusal it would take is a
    conservative one (the mark margin)."""
    quote = sim.engine.quote(request.symbol)
    try:
        check_order(
            sim.engine.specs[request.symbol],
            side=request.side,
            market=request.type == "MARKET",
            quantity=request.quantity,
            price=request.price,
            reduce_only=request.reduce_only,
            mark=sim.engine.mark_price(request.symbol),
            best=quote.ask if request.side == "BUY" else quote.bid,
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
        self.market_band = 0  # MARKET requests refused locally for PERCENT_PRICE (-4131)
        self.closes: Counter[str] = Counter()  # reduce-only closes after LEVERAGE_BRACKET

    @property
    def sent(self) -> int:
        return sum(self.outcomes.values())


async def worker(
    rng: random.Random,
    api: StrategyOrders,
    cache: AccountView,
    sim: SimExchange,
    symbols: tuple[str, ...],
    tally: Tally,
    quota: int,
) -> None:
    for _ in range(quota):
        symbol = rng.choice(symbols)
        request, rounding = random_request(rng, symbol, sim)
        await place_one(api, cache, sim, request, rounding, tally)


async def place_one(
    api: StrategyOrders,
    cache: AccountView,
    sim: SimExchange,
    request: OrderRequest,
    rounding: bool,
    tally: Tally,
) -> None:
    """Send one request through the order API and tally what became of it."""
    symbol = request.symbol
    try:
        await api.place(request, round_to_rules=rounding)
    except FilterRefused as exc:
        tally.outcomes["refused_locally"] += 1
        named = exc.filters and all(f in FILTER_NAMES and f"{f}: " in str(exc) for f in exc.filters)
        if not named:
            tally.unnamed.append(str(exc))
        for name in exc.filters:
            tally.local_by_filter[name] += 1
        if request.type == "MARKET" and "PERCENT_PRICE" in exc.filters:
            tally.market_band += 1
        if "MAX_NUM_ORDERS" in exc.filters:
            await api.cancel_all(symbol)
        elif "LEVERAGE_BRACKET" in exc.filters:
            await close(api, cache, symbol, tally)
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


async def close(api: StrategyOrders, cache: AccountView, symbol: str, tally: Tally) -> None:
    """Close the symbol's position (as the cache has it) with a reduce-only MARKET order."""
    position = cache.position(symbol)
    if position is None or not position.amount:
        return
    request = OrderRequest(
        symbol=symbol,
        side="SELL" if position.amount > 0 else "BUY",
        type="MARKET",
        quantity=abs(position.amount),
        reduce_only=True,
    )
    try:
        await api.place(request, round_to_rules=True)
    except FilterRefused:  # beyond MARKET_LOT_SIZE's maximum: the next refusal tries again
        tally.closes["refused_locally"] += 1
    except ExchangeFilterRejection as exc:
        tally.exchange_filter.append(str(exc))
    except BinanceAPIError as exc:  # -2022: another worker closed it first
        tally.closes[f"exchange_{exc.code}"] += 1
    else:
        tally.closes["sent"] += 1


async def book_worker(
    rng: random.Random,
    api: StrategyOrders,
    cache: AccountView,
    bot_ticks: Mapping[str, Tick],
    sim: SimExchange,
    tally: Tally,
    quota: int,
) -> None:
    """Requests on a book the test moves: every ``BOOK_EVERY`` a new one, wider than the
    band on both sides 40 % of the time, each seen by the bot before the next request."""
    mids = {s: sim.engine.specs[s].start_price for s in BOOK_SYMBOLS}
    for n in range(quota):
        if n % BOOK_EVERY == 0:
            for symbol in BOOK_SYMBOLS:
                spec = sim.engine.specs[symbol]
                mid = mids[symbol] * D(rng.randint(9950, 10050)) / 10000
                half = mid * (D(rng.randint(55, 90)) / 1000 if rng.random() < 0.4 else D("0.0001"))
                bid = (mid - half).quantize(spec.tick_size, rounding="ROUND_FLOOR")
                ask = (mid + half).quantize(spec.tick_size, rounding="ROUND_CEILING")
                depth = spec.top_qty * 50
                sim.apply_quote(symbol, bid, depth, ask, depth)
                await until(lambda s=symbol, a=ask: s in bot_ticks and bot_ticks[s].ask == a)
        symbol = rng.choice(BOOK_SYMBOLS)
        request, rounding = random_request(rng, symbol, sim)
        await place_one(api, cache, sim, request, rounding, tally)


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
            worker(random.Random(1000 * index + w), api, bot.ctx.cache, sim, symbols, tally, quota)
            for w in range(WORKERS)
        ]
    book_sim = await sim_factory(
        seed=200, symbols=list(BOOK_SYMBOLS), **{**SIM, "updates_per_second": 0.0}
    )
    sims.append(book_sim)
    book_bot = await sim_bot(
        sim=book_sim,
        clock=SystemClock(),
        binance=CONNECTOR,
        overrides={"strategies": [{"id": "p", "use": f"{__name__}:Prover"}]},
    )
    ticks = book_bot.ctx.last_ticks
    runs.append(
        book_worker(
            random.Random(4000),
            book_bot.ctx.orders("p"),
            book_bot.ctx.cache,
            ticks,
            book_sim,
            tally,
            BOOK_REQUESTS,
        )
    )
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
        "local_market_percent_price": tally.market_band,
        "position_closes": dict(sorted(tally.closes.items())),
        "other_outcomes": {
            k: v
            for k, v in sorted(tally.outcomes.items())
            if k not in ("accepted", "refused_locally", "refused_by_exchange_for_a_filter")
        },
        "bots": len(BOTS) + 1,
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
        "LEVERAGE_BRACKET",
    }
    assert tally.market_band >= 50
