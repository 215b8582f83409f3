"""Candle history through the connector (``fetch_candles``) against the simulator: paged at the
cheapest weight, within the governor's budget, every row checked at the decode boundary."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from framework.types import Candle
from plugins.binance.errors import RateLimitWaitTooLong, ServerError
from plugins.binance.history import klines_weight, page_sizes
from plugins.sim.prices import units_to_str

from .conftest import HarnessFactory
from .helpers import FAST_CONFIG


def test_pages_cost_the_least_weight() -> None:
    assert page_sizes(200) == [200]
    assert page_sizes(1200) == [499, 499, 202]
    assert sum(klines_weight(n) for n in page_sizes(1500)) == 7  # one page of 1500: 10
    assert [klines_weight(n) for n in (1, 99, 100, 499, 500, 1000, 1001)] == [1, 1, 2, 2, 5, 5, 10]


async def test_history_is_the_exchange_candles_oldest_first(make_harness: HarnessFactory) -> None:
    h = await make_harness(user_data=False, market_data=False, updates_per_second=0)
    sim, connector = h.sim, h.connector
    await sim.move_price("BTCUSDT", "65000")  # a live trade: the forming candle
    before = sim.limiter.used_weight("127.0.0.1", sim.clock())
    requests = connector.rest.stats.requests

    candles = await connector.fetch_candles("BTCUSDT", "1m", 1200)

    assert connector.rest.stats.requests - requests == 3  # 499 + 499 + 202
    assert sim.limiter.used_weight("127.0.0.1", sim.clock()) - before == 6
    assert len(candles) == 1200
    assert all(isinstance(c, Candle) and isinstance(c.close, Decimal) for c in candles)
    assert all(b.open_time == a.close_time + 1 for a, b in itertools.pairwise(candles))
    assert [c.closed for c in candles[-2:]] == [True, False]
    series = sim.candles["BTCUSDT"].series["1m"]
    truth = series.window(None, None, 1200)
    assert [(c.open_time, c.close) for c in candles] == [
        (t.open_time, Decimal(units_to_str(t.close, 2))) for t in truth
    ]
    assert candles[-1].close == Decimal(units_to_str(sim.paths["BTCUSDT"].last.trade_price, 2))

    # more than the exchange has: what it has (1,500 seeded minutes and the forming one)
    every = await connector.fetch_candles("BTCUSDT", "1m", 5000)
    assert len(every) == 1501
    hours = await connector.fetch_candles("ETHUSDT", "1h", 10)
    assert [c.interval for c in hours] == ["1h"] * 10
    with pytest.raises(ValueError, match="interval '2m'"):
        await connector.fetch_candles("BTCUSDT", "2m", 10)


async def test_history_waits_within_the_budget_instead_of_a_429(
    make_harness: HarnessFactory,
) -> None:
    """A history larger than what is left of the minute's weight is refused by the governor
    before the exchange has to answer 429."""
    config = msgspec.structs.replace(FAST_CONFIG, weight_limit_1m=12, max_rate_wait=0.2)
    h = await make_harness(
        config=config, user_data=False, market_data=False, updates_per_second=0, weight_limit_1m=12
    )
    # (the start's rules reads, symbolConfig's weight 5 among them, may already have met the
    # tiny budget: only what this history read does counts)
    refused = h.connector.rest.governor.stats.refused
    with pytest.raises(RateLimitWaitTooLong):
        await h.connector.fetch_candles("BTCUSDT", "1m", 1500)
    assert h.connector.rest.governor.stats.http_429 == 0
    assert h.connector.rest.governor.stats.refused == refused + 1


@pytest.mark.parametrize(
    ("row_change", "problem"),
    [
        ({2: "64000.00", 3: "66000.00"}, "prices out of order"),
        ({4: "NaN"}, "close"),
        ({5: "-1"}, "volume"),
        ({6: 0}, "closeTime"),
    ],
)
async def test_an_insane_candle_refuses_the_answer(
    make_harness: HarnessFactory, row_change: dict[int, Any], problem: str
) -> None:
    h = await make_harness(user_data=False, market_data=False, updates_per_second=0)

    def tamper(method: str, path: str, result: Any) -> Any:
        if path == "/fapi/v1/klines":
            result[-3] = [row_change.get(i, v) for i, v in enumerate(result[-3])]
        return result

    h.sim.tamper_rest = tamper
    with pytest.raises(ServerError, match="answer refused") as info:
        await h.connector.fetch_candles("BTCUSDT", "1m", 50)
    assert problem in str(info.value)
    assert h.connector.counters.rejected_by == {"GET /fapi/v1/klines": 1}  # counted and logged
