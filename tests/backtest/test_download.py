"""``tradeloop download-data`` against the simulator over loopback, then a backtest of what
it wrote."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

import pytest

from framework.clock import ManualClock
from framework.settings import load_settings
from plugins.backtest.data import day_start
from plugins.backtest.download import run_download
from plugins.backtest.runner import Request, run_backtest
from plugins.sim.testing import SimFactory

from .helpers import DAY1, settings_file

# The simulator starts with 1,500 closed 1m candles: started at 01:00 on the 2nd, its past
# covers the whole of the 1st.
NOW = day_start(DAY1) / 1000 + 86_400 + 3_600


def _args(tmp_path: Path, url: str, **extra: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "symbols": "BTCUSDT,ETHUSDT",
        "interval": "1m",
        "start": "2026-01-01",
        "end": "2026-01-03",
        "trades": False,
        "data": tmp_path / "data",
        "rest_url": url,
        "settings": None,
    }
    values.update(extra)
    return argparse.Namespace(**values)


async def test_download_pages_klines_into_archive_named_days_then_backtests_them(
    sim_factory: SimFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = ManualClock(NOW)
    sim = await sim_factory(clock=clock.time, seed=5, updates_per_second=0.0)
    settings = load_settings(use_files=False, overrides={"runtime": {"data_dir": str(tmp_path)}})
    assert await run_download(_args(tmp_path, sim.rest_url), settings) == 0
    data = tmp_path / "data"
    assert sorted(p.name for p in data.iterdir()) == [
        "BTCUSDT-1m-2026-01-01.csv",
        "ETHUSDT-1m-2026-01-01.csv",
    ]  # the 2nd has not ended on the exchange's clock: not written
    lines = (data / "BTCUSDT-1m-2026-01-01.csv").read_text().splitlines()
    assert lines[0].startswith("open_time,open,high,low,close")
    assert len(lines) == 1 + 1440
    assert lines[1].split(",")[0] == str(day_start(DAY1))
    assert len(lines[1].split(",")) == 12
    printed = capsys.readouterr().out
    assert "2 files written, 0 already there" in printed

    # Resumable: what is there is not fetched again; a removed day is.
    (data / "ETHUSDT-1m-2026-01-01.csv").unlink()
    assert await run_download(_args(tmp_path, sim.rest_url), settings) == 0
    assert "1 files written, 1 already there" in capsys.readouterr().out

    settings_file(tmp_path)
    start = day_start(DAY1)
    results, _, _ = await run_backtest(
        Request(
            start,
            start + 86_400_000,
            settings_file=str(tmp_path / "settings.yaml"),
            data_dir=data,
            out=tmp_path / "out",
        )
    )
    assert results["summary"]["ticks"] == 2 * 1440 * 4
    assert results["gaps"] == []
    assert results["by_strategy"]["ma_btc"]["trades"] > 0


async def test_download_trades_pages_the_history_trades_then_backtests_them_trade_by_trade(
    sim_factory: SimFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--trades`` pages each hour of the simulator's history aggTrades (startTime/endTime,
    then fromId) into archive-named files that add up to the day's candles; a backtest then
    plays that day trade by trade (and a symbol without trades along its candles)."""
    clock = ManualClock(NOW)
    sim = await sim_factory(clock=clock.time, seed=5, updates_per_second=0.0)
    settings = load_settings(use_files=False, overrides={"runtime": {"data_dir": str(tmp_path)}})
    # One symbol's trades (48 pages of weight 20) stay within the weight budget of the
    # simulator's frozen minute; the other symbol's candles only.
    btc = _args(tmp_path, sim.rest_url, symbols="BTCUSDT", trades=True)
    assert await run_download(btc, settings) == 0
    assert "2 files written, 0 already there" in capsys.readouterr().out
    assert await run_download(_args(tmp_path, sim.rest_url, symbols="ETHUSDT"), settings) == 0
    data = tmp_path / "data"
    assert sorted(p.name for p in data.iterdir()) == [
        "BTCUSDT-1m-2026-01-01.csv",
        "BTCUSDT-aggTrades-2026-01-01.csv",
        "ETHUSDT-1m-2026-01-01.csv",
    ]
    # Resumable: both files of the day are there.
    assert await run_download(btc, settings) == 0
    assert "0 files written, 2 already there" in capsys.readouterr().out
    lines = (data / "BTCUSDT-aggTrades-2026-01-01.csv").read_text().splitlines()
    assert lines[0].startswith("agg_trade_id,price,quantity")
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) > 24 * 1000  # more than a page an hour: paged by fromId too
    ids = [int(r[0]) for r in rows]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # none lost, none twice
    times = [int(r[5]) for r in rows]
    start = day_start(DAY1)
    assert start <= times[0]
    assert times[-1] < start + 86_400_000
    assert times == sorted(times)
    # The trades add up to the day's candles.
    candles = [
        line.split(",")
        for line in (data / "BTCUSDT-1m-2026-01-01.csv").read_text().splitlines()[1:]
    ]
    assert sum(Decimal(r[2]) for r in rows) == sum(Decimal(c[5]) for c in candles)
    assert rows[0][1] == candles[0][1]
    assert rows[-1][1] == candles[-1][4]
    assert max(Decimal(r[1]) for r in rows) == max(Decimal(c[2]) for c in candles)

    settings_file(tmp_path)
    results, _, _ = await run_backtest(
        Request(
            start,
            start + 86_400_000,
            settings_file=str(tmp_path / "settings.yaml"),
            data_dir=data,
            out=tmp_path / "out",
        )
    )
    # BTCUSDT trade by trade, ETHUSDT along its candles' path.
    assert results["data"]["trades"] == {"BTCUSDT": len(rows), "ETHUSDT": 0}
    assert results["summary"]["ticks"] == len(rows) + 1440 * 4
    assert results["gaps"] == []
    assert results["by_strategy"]["ma_btc"]["trades"] > 0
