"""The venue (the simulator's engine behind the connector interface, into a real account
cache), the intra-candle path, trade files, and candle history without look-ahead."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from framework.cache import AccountCache
from framework.clock import ManualClock
from framework.types import Fill, OrderRequest
from plugins.backtest.data import day_start, index_folder
from plugins.backtest.feed import SymbolData, SymbolFeed, candle_path
from plugins.backtest.history import CandleHistory
from plugins.backtest.testing import write_days
from plugins.backtest.venue import BacktestVenue, VenueRejected, rules_of, spec_for

from .helpers import DAY1, backtest, results, settings_file, two_symbols

START = day_start(DAY1)


def _venue(
    slippage_bps: float = 0.0,
) -> tuple[BacktestVenue, AccountCache, list[tuple[Fill, str]]]:
    cache = AccountCache()
    fills: list[tuple[Fill, str]] = []
    clock = ManualClock(START / 1000)
    specs = {"BTCUSDT": spec_for("BTCUSDT", Decimal("65000"))}
    venue = BacktestVenue(
        specs,
        {"BTCUSDT": Decimal("65000.0")},
        balance=Decimal(10000),
        leverage=10,
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0005"),
        slippage_bps=slippage_bps,
        latency_ms=0,
        spread_ticks=1,
        sink=cache,
        clock=clock,
        candles=lambda *_: [],
        on_fill=lambda fill, owner: fills.append((fill, owner)),
    )
    venue.seed()
    return venue, cache, fills


async def test_market_orders_fill_with_slippage_and_taker_fee_into_the_cache() -> None:
    venue, cache, fills = _venue(slippage_bps=10)
    order = await venue.place_order(
        OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.01")),
        owner="s1",
    )
    assert order.status == "FILLED"
    # ask 65000.1, 10 bps worse = 65065.1001 -> up to the tick: 65065.2
    assert order.avg_price == Decimal("65065.2")
    fill, owner = fills[0]
    assert owner == "s1"
    assert venue.owner_of(fill.client_order_id) == "s1"
    assert fill.fee == Decimal("0.32532600")  # 0.01 * 65065.2 * 0.0005
    position = cache.view.position("BTCUSDT")
    assert position is not None
    assert position.amount == Decimal("0.01")
    assert cache.view.balances["USDT"].wallet_balance == Decimal("10000") - fill.fee


async def test_resting_limit_fills_as_maker_when_the_price_crosses() -> None:
    venue, cache, fills = _venue()
    order = await venue.place_order(
        OrderRequest(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            quantity=Decimal("0.01"),
            price=Decimal("64900"),
        ),
        owner="s1",
    )
    assert order.is_open
    assert len(cache.view.open_orders) == 1
    venue.on_price("BTCUSDT", Decimal("64950.0"), START + 1000)
    assert not fills
    venue.on_price("BTCUSDT", Decimal("64899.0"), START + 2000)
    fill = fills[0][0]
    assert fill.is_maker
    assert fill.price == Decimal("64900")
    assert fill.fee == Decimal("0.12980000")
    assert not cache.view.open_orders


async def test_filters_are_the_simulators() -> None:
    venue, _, _ = _venue()
    with pytest.raises(VenueRejected, match="-4164"):
        await venue.place_order(
            OrderRequest(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.001")),
            owner="s",
        )
    with pytest.raises(VenueRejected, match="-1121"):
        await venue.place_order(
            OrderRequest(symbol="NOPEUSDT", side="BUY", type="MARKET", quantity=Decimal("1")),
            owner="s",
        )


def test_the_venue_publishes_the_rules_it_enforces() -> None:
    rules = rules_of(spec_for("BTCUSDT", Decimal("65000")))
    assert rules.tick_size == Decimal("0.10")
    assert rules.min_notional == Decimal("100")
    derived = rules_of(spec_for("DOGEUSDT", Decimal("0.12345")))
    assert derived.tick_size == Decimal("0.00001")
    assert derived.min_notional == Decimal(5)


def test_candle_path_visits_the_nearer_extreme_first() -> None:
    d = Decimal
    assert candle_path(d(100), d(103), d(90), d(95)) == (d(100), d(103), d(90), d(95))
    assert candle_path(d(100), d(110), d(98), d(105)) == (d(100), d(98), d(110), d(105))


def test_feed_streams_the_path_with_its_times(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2026-01-01.csv"
    path.write_text(
        f"{START},100,103,90,95,1,{START + 59999},1,1,1,1,0\n"
        f"{START + 60000},95,99,94,98,1,0,1,1,1,1,0\n"
    )
    data = SymbolData("BTCUSDT", index_folder(tmp_path, "1m")["BTCUSDT"])
    gaps: list = []
    ticks = list(SymbolFeed(data, 0, "1m", START, START + 120_000, gaps))
    d = Decimal
    assert ticks == [
        (START, 0, d(100)),
        (START + 15_000, 0, d(103)),
        (START + 30_000, 0, d(90)),
        (START + 59_999, 0, d(95)),
        (START + 60_000, 0, d(95)),
        (START + 75_000, 0, d(94)),
        (START + 90_000, 0, d(99)),
        (START + 119_999, 0, d(98)),
    ]
    assert gaps == []


def test_trade_files_are_used_instead_of_candles(tmp_path: Path) -> None:
    data = two_symbols(tmp_path / "data")
    rows = [f"{i},{65000 + i}.5,0.01,{i},{i},{START + i * 1000},false" for i in range(100)]
    header = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
    (data / "BTCUSDT-aggTrades-2026-01-01.csv").write_text("\n".join([header, *rows]) + "\n")
    settings_file(tmp_path)
    assert backtest(tmp_path, "out") == 0
    found = results(tmp_path, "out")
    assert found["data"]["trades"]["BTCUSDT"] == 100
    assert found["data"]["candles"]["BTCUSDT"] == 0
    assert found["by_symbol"]["BTCUSDT"]["first_price"] == "65000.5"
    assert found["by_symbol"]["BTCUSDT"]["last_price"] == "65099.5"


def test_history_holds_only_candles_closed_before_now(tmp_path: Path) -> None:
    write_days(tmp_path, "BTCUSDT", date(2025, 12, 31), 2)
    history = CandleHistory(index_folder(tmp_path, "1m"), "1m")
    now = START + 90_000  # 00:01:30 on the second day
    candles = history("BTCUSDT", "1m", 5, now)
    assert [c.open_time for c in candles] == [START - 4 * 60_000 + i * 60_000 for i in range(5)]
    assert all(c.close_time < now for c in candles)
    hours = history("BTCUSDT", "1h", 3, now)
    assert [c.open_time for c in hours] == [START - 3 * 3_600_000 + i * 3_600_000 for i in range(3)]
    assert hours[-1].close_time == START - 1


def test_the_ma_crossover_warms_up_from_the_day_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    write_days(data, "BTCUSDT", date(2025, 12, 31), 2)
    write_days(data, "ETHUSDT", DAY1, 1, price=3500.0, decimals=2)
    settings_file(tmp_path)
    assert backtest(tmp_path, "out") == 0
    assert "BTCUSDT warmed up from 15 1m candles" in capsys.readouterr().err
