"""Generated candle files in Binance's archive layout, for tests and benchmarks (seeded)."""

from __future__ import annotations

import random
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from .data import day_start, kline_name

HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)


def write_days(
    folder: Path,
    symbol: str,
    first: date,
    days: int,
    *,
    price: float = 65000.0,
    decimals: int = 1,
    seed: int = 1,
    header: bool = False,
    as_zip: bool = False,
    skip_minutes: tuple[int, ...] = (),
    volatility: float = 0.0008,
) -> list[Path]:
    """``days`` files of 1m candles of a seeded random walk from ``price``; minutes of the day
    in ``skip_minutes`` are left out of every file (a gap). Returns the files written."""
    rng = random.Random(f"{symbol}-{seed}")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    quant = Decimal(1).scaleb(-decimals)
    skipped = set(skip_minutes)
    for n in range(days):
        day = first + timedelta(n)
        start = day_start(day)
        rows = [HEADER] if header else []
        for minute in range(1440):
            moves = [price * (1 + rng.gauss(0, volatility)) for _ in range(3)]
            close = moves[-1]
            high = max(price, *moves)
            low = min(price, *moves)
            if minute not in skipped:
                t = start + minute * 60_000
                o, h, lo, c = (
                    str(Decimal(repr(v)).quantize(quant)) for v in (price, high, low, close)
                )
                rows.append(f"{t},{o},{h},{lo},{c},12.5,{t + 59_999},812500.0,100,6.1,396500.0,0")
            price = close
        name = kline_name(symbol, "1m", day)
        text = "\n".join(rows) + "\n"
        if as_zip:
            path = folder / (name.removesuffix(".csv") + ".zip")
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(name, text)
        else:
            path = folder / name
            path.write_text(text, encoding="ascii")
        written.append(path)
    return written
