"""Settings files and data folders for backtest tests (all under tmp_path)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson

from framework.cli import main
from plugins.backtest.testing import write_days

DAY1 = date(2026, 1, 1)
SETTINGS = """\
default:
  runtime: {{data_dir: {run}}}
  exchange: {{symbols: [{symbols}]}}
  plugins:
    backtest: {{maker_fee: "0.0002"{extra}}}
  strategies:
    - id: ma_btc
      use: ma_crossover
      params: {{symbol: BTCUSDT, fast: 5, slow: 15, interval: 60, quantity: "0.002"}}
    - id: grid_eth
      use: grid
      params: {{symbol: ETHUSDT, levels: 2, step: "5", quantity: "0.01", recenter_every: 600}}
"""


def settings_file(tmp_path: Path, symbols: str = "BTCUSDT, ETHUSDT", extra: str = "") -> Path:
    """A settings file running both example strategies, its data_dir in ``tmp_path``."""
    path = tmp_path / "settings.yaml"
    path.write_text(SETTINGS.format(run=tmp_path / "run", symbols=symbols, extra=extra))
    return path


def two_symbols(folder: Path, days: int = 1, **btc: Any) -> Path:
    """BTCUSDT as plain CSV, ETHUSDT zipped with Binance's header row."""
    write_days(folder, "BTCUSDT", DAY1, days, **btc)
    write_days(folder, "ETHUSDT", DAY1, days, price=3500.0, decimals=2, header=True, as_zip=True)
    return folder


def backtest(
    tmp_path: Path, out: str, *extra: str, start: str = "2026-01-01", end: str = "2026-01-02"
) -> int:
    """``tradeloop backtest`` over ``tmp_path/data`` into ``tmp_path/out``."""
    return main(
        [
            "backtest",
            "--settings",
            str(tmp_path / "settings.yaml"),
            "--from",
            start,
            "--to",
            end,
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / out),
            *extra,
        ]
    )


def results(tmp_path: Path, out: str) -> dict[str, Any]:
    """The results JSON of a run."""
    loaded: dict[str, Any] = orjson.loads((tmp_path / out / "results.json").read_bytes())
    return loaded
