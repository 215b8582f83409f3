"""The trade log: a backtest's trades go to a file as they happen, so memory stays flat with
the number of trades, and the reports still list every one of them."""

from __future__ import annotations

import gc
import tracemalloc
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from framework import cache as cache_module
from framework.cache import AccountCache
from framework.clock import ManualClock
from framework.types import Fill, OrderRequest
from plugins.backtest import venue as venue_module
from plugins.backtest.data import day_start
from plugins.backtest.render import to_json, to_markdown, write_reports
from plugins.backtest.trades import FILE, TradeLog
from plugins.backtest.venue import BacktestVenue, spec_for

from .helpers import DAY1

START = day_start(DAY1)


def _fill(n: int, pnl: str = "0", symbol: str = "BTCUSDT") -> Fill:
    return Fill(
        symbol=symbol,
        order_id=n,
        trade_id=n,
        client_order_id=f"bt{n}-s",
        side="BUY" if n % 2 else "SELL",
        price=Decimal("65000.1") + n,
        qty=Decimal("0.01"),
        fee=Decimal("0.325"),
        fee_asset="USDT",
        realized_pnl=Decimal(pnl),
        is_maker=False,
        event_time=START + n,
    )


def test_trades_are_read_back_from_the_file_in_order_with_their_totals(tmp_path: Path) -> None:
    path = tmp_path / "out" / FILE
    path.parent.mkdir()
    path.write_text('{"stale": "an earlier run"}\n')
    log = TradeLog(path)
    assert not path.exists()  # an earlier run's trades are not listed as this run's
    log.add(_fill(1), "a")
    log.add(_fill(2, "3"), "b")
    log.add(_fill(3, "-1", "ETHUSDT"), "a")
    assert [t["trade_id"] for t in log] == [1, 2, 3]  # readable while the run goes on
    log.close()
    rows = list(log)
    assert len(log) == 3
    assert rows[1] == {
        "time": "2026-01-01T00:00:00.002Z",
        "strategy": "b",
        "symbol": "BTCUSDT",
        "side": "SELL",
        "qty": "0.01",
        "price": "65002.1",
        "fee": "0.325",
        "realized_pnl": "3",
        "maker": False,
        "order_id": 2,
        "trade_id": 2,
    }
    assert log.total.figures()["win_rate_pct"] == 50.0
    assert log.by_owner["a"].figures()["realized_pnl"] == "-1"
    assert log.by_symbol["ETHUSDT"].trades == 1
    with pytest.raises(ValueError, match="closed"):
        log.add(_fill(4), "a")


def test_a_run_without_trades_leaves_an_empty_file(tmp_path: Path) -> None:
    log = TradeLog(tmp_path / FILE)
    assert list(log) == []
    log.close()
    assert (tmp_path / FILE).read_bytes() == b""


def test_reports_stream_every_trade_and_match_the_whole_json(tmp_path: Path) -> None:
    log = TradeLog(tmp_path / FILE)
    for n in range(1, 6):
        log.add(_fill(n), "s")
    log.close()
    results = {
        "period": {"from": "a", "to": "b"},
        "summary": {"trades": 5},
        "by_strategy": {},
        "by_symbol": {},
        "gaps": [],
        "equity": [],
        "prices": {"BTCUSDT": [{"time": "2026-01-01T00:00:00Z", "price": "65000"}]},
        "trades": log,
    }
    whole = {**results, "trades": list(log)}
    expected = orjson.dumps(whole, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    assert to_json(results) == expected
    assert to_markdown(results) == to_markdown(whole)
    json_file, md_file, html_file = write_reports(results, tmp_path / "reports")
    assert json_file.read_bytes() == expected
    assert "## Trades (5)" in md_file.read_text()
    assert html_file.read_text().count("<circle") == 5


async def test_the_venue_keeps_no_fill_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory allocated by the backtest's own code and still held after thousands of fills
    stays flat: the fills are in the trade log's file, not in a list."""
    # The bounded order histories (the venue's and the cache's), small.
    monkeypatch.setattr(venue_module, "KEEP_CLOSED", 50)
    monkeypatch.setattr(cache_module, "CLOSED_ORDERS_KEPT", 50)
    log = TradeLog(tmp_path / FILE)
    venue = BacktestVenue(
        {"BTCUSDT": spec_for("BTCUSDT", Decimal("65000"))},
        {"BTCUSDT": Decimal("65000.0")},
        balance=Decimal(1_000_000),
        leverage=10,
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0005"),
        slippage_bps=0,
        latency_ms=0,
        spread_ticks=1,
        sink=AccountCache(),
        clock=ManualClock(START / 1000),
        candles=lambda *_: [],
        on_fill=log.add,
    )
    venue.seed()

    async def trade(count: int) -> None:
        for n in range(count):
            await venue.place_order(
                OrderRequest(
                    symbol="BTCUSDT",
                    side="BUY" if n % 2 == 0 else "SELL",
                    type="MARKET",
                    quantity=Decimal("0.01"),
                ),
                owner="s",
            )

    def held() -> int:
        gc.collect()
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, "*/plugins/backtest/*")]
        )
        return sum(stat.size for stat in snapshot.statistics("filename"))

    tracemalloc.start()
    try:
        await trade(200)  # past the bounded histories
        before = held()
        await trade(3000)
        grown = held() - before
    finally:
        tracemalloc.stop()
        log.close()
    assert len(log) == 3200
    # A list of 3,000 fills alone would hold over 500 KB.
    assert grown < 64_000, grown
