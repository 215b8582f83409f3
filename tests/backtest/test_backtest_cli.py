"""``tradeloop backtest`` end to end on generated data: the example strategies, unchanged,
through the core on the simulator's matching engine; reports; determinism; bad input."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from plugins.backtest.testing import write_days

from .helpers import DAY1, backtest, results, settings_file, two_symbols


def test_backtest_runs_both_strategies_and_writes_every_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_symbols(tmp_path / "data")
    settings_file(tmp_path)
    assert backtest(tmp_path, "out") == 0
    out = tmp_path / "out"
    for name in ("results.json", "report.md", "report.html", "journal.sqlite3"):
        assert (out / name).is_file(), name
    found = results(tmp_path, "out")
    summary = found["summary"]
    assert summary["ticks"] == 2 * 1440 * 4
    assert found["by_strategy"]["ma_btc"]["trades"] > 0
    assert found["by_strategy"]["grid_eth"]["trades"] > 0
    assert summary["trades"] == len(found["trades"])
    # The account adds up to the last digit: wallet = balance + realized - fees.
    realized = sum(Decimal(t["realized_pnl"]) for t in found["trades"])
    fees = sum(Decimal(t["fee"]) for t in found["trades"])
    final = Decimal(summary["final_equity"])
    assert final == Decimal("10000") + realized - fees + Decimal(summary["unrealized_pnl"])
    assert summary["pnl"] == str(final - Decimal("10000"))
    assert found["gaps"] == []
    assert set(found["by_symbol"]) == {"BTCUSDT", "ETHUSDT"}
    assert found["by_symbol"]["BTCUSDT"]["buy_and_hold_pct"] is not None
    page = (out / "report.html").read_text()
    assert "<svg" in page
    assert "Drawdown" in page
    assert "ETHUSDT: price and trades" in page
    assert "| trades |" in (out / "report.md").read_text()
    printed = capsys.readouterr().out
    assert "ticks/s" in printed
    assert "results.json" in printed


def test_same_data_and_settings_give_the_same_results(tmp_path: Path) -> None:
    two_symbols(tmp_path / "data")
    settings_file(tmp_path)
    assert backtest(tmp_path, "a") == 0
    assert backtest(tmp_path, "b") == 0
    first = (tmp_path / "a" / "results.json").read_bytes()
    assert first == (tmp_path / "b" / "results.json").read_bytes()
    assert results(tmp_path, "a")["summary"]["trades"] > 0


def test_fees_slippage_and_latency_are_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_symbols(tmp_path / "data")
    settings_file(tmp_path)
    assert backtest(tmp_path, "plain") == 0
    settings_file(tmp_path, extra=', slippage_bps: 5, latency_ms: 250, taker_fee: "0.001"')
    assert backtest(tmp_path, "costly") == 0
    plain, costly = results(tmp_path, "plain"), results(tmp_path, "costly")
    assert costly["settings"]["slippage_bps"] == 5
    assert costly["settings"]["latency_ms"] == 250
    assert Decimal(costly["summary"]["fees"]) > Decimal(plain["summary"]["fees"])
    # A market order's first fill: later (latency) and worse (slippage) than without.
    first_plain = next(t for t in plain["trades"] if t["strategy"] == "ma_btc")
    first_costly = next(t for t in costly["trades"] if t["strategy"] == "ma_btc")
    assert _at(first_costly["time"]) > _at(first_plain["time"])
    capsys.readouterr()
    from framework.cli import main

    assert (
        main(
            [
                "backtest",
                "--compare",
                str(tmp_path / "plain/results.json"),
                str(tmp_path / "costly/results.json"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "results.json" in printed
    assert "setting slippage_bps" in printed
    assert "profit factor" in printed


def test_a_gap_is_reported_never_filled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two_symbols(tmp_path / "data", skip_minutes=tuple(range(600, 630)))
    settings_file(tmp_path)
    assert backtest(tmp_path, "out") == 0
    found = results(tmp_path, "out")
    assert found["gaps"] == [
        {"symbol": "BTCUSDT", "from": "2026-01-01T10:00Z", "to": "2026-01-01T10:30Z", "minutes": 30}
    ]
    assert found["data"]["candles"]["BTCUSDT"] == 1440 - 30
    assert "BTCUSDT: no data from 2026-01-01T10:00Z to 2026-01-01T10:30Z" in capsys.readouterr().err


def test_a_missing_day_is_a_gap_naming_the_symbol(tmp_path: Path) -> None:
    two_symbols(tmp_path / "data", days=3)
    (tmp_path / "data" / "BTCUSDT-1m-2026-01-02.csv").unlink()
    settings_file(tmp_path)
    assert backtest(tmp_path, "out", end="2026-01-04") == 0
    assert results(tmp_path, "out")["gaps"] == [
        {
            "symbol": "BTCUSDT",
            "from": "2026-01-02T00:00Z",
            "to": "2026-01-03T00:00Z",
            "minutes": 1440,
        }
    ]


def test_a_symbol_without_data_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_symbols(tmp_path / "data")
    settings_file(tmp_path, symbols="BTCUSDT, ETHUSDT, SOLUSDT")
    assert backtest(tmp_path, "out") == 2
    err = capsys.readouterr().err
    assert "SOLUSDT: no data in" in err
    assert "SOLUSDT-1m-2026-01-01.csv" in err


def test_a_period_outside_the_data_exits_2_naming_symbol_and_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_symbols(tmp_path / "data")
    settings_file(tmp_path)
    assert backtest(tmp_path, "out", start="2026-03-01", end="2026-03-02") == 2
    err = capsys.readouterr().err
    assert "BTCUSDT: the period 2026-03-01T00:00Z to 2026-03-02T00:00Z is outside the data" in err
    assert "2026-01-01 to 2026-01-01" in err


def test_overlapping_files_exit_2_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_symbols(tmp_path / "data")
    write_days(tmp_path / "data", "BTCUSDT", DAY1, 1, as_zip=True)
    settings_file(tmp_path)
    assert backtest(tmp_path, "out") == 2
    err = capsys.readouterr().err
    assert "BTCUSDT: overlapping files for 2026-01-01" in err
    assert "BTCUSDT-1m-2026-01-01.csv" in err
    assert "BTCUSDT-1m-2026-01-01.zip" in err


def test_repeated_candles_exit_2_as_overlapping_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_symbols(tmp_path / "data")
    path = tmp_path / "data" / "BTCUSDT-1m-2026-01-01.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:10], lines[5], *lines[10:]]) + "\n")
    settings_file(tmp_path)
    assert backtest(tmp_path, "out") == 2
    assert (
        "BTCUSDT: the candle at 2026-01-01T00:05Z in BTCUSDT-1m-2026-01-01.csv repeats"
        in capsys.readouterr().err
    )


def test_no_file_is_written_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_symbols(tmp_path / "data")
    settings_file(tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert backtest(tmp_path, "out") == 0
    assert list(cwd.iterdir()) == []


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
