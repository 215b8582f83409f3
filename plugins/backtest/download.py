"""``tradeloop download-data``: klines (and aggTrades) from the exchange's REST into one file
per symbol and day, named and laid out as Binance's public archive names and lays them out.

Requests go through the connector's REST client (its rate governor paces them within the
weight budget, errors retried as for any request). Resumable: a day whose file exists is
skipped; a day is written to ``NAME.part`` and renamed when complete, so an interrupted run
leaves no half file. Only days that ended before the exchange's time are written.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from loguru import logger

from framework.errors import EXIT_OK
from framework.settings import Settings

from .data import (
    DAY_MS,
    INTERVAL_MS,
    DataError,
    day_start,
    kline_name,
    trades_name,
)

KLINES = "/fapi/v1/klines"
AGG_TRADES = "/fapi/v1/aggTrades"
KLINE_PAGE = 499  # the largest page of weight 2: the least weight per candle
TRADES_PAGE = 1000
TRADES_WEIGHT = 20
HOUR_MS = 3_600_000
KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
TRADES_HEADER = (
    "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
)


def configure_download(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("--symbols", required=True, metavar="LIST", help="BTCUSDT,ETHUSDT")
    parser.add_argument("--interval", default=None, help="plugins.backtest.interval (1m)")
    parser.add_argument("--from", dest="start", required=True, metavar="DAY", help="2026-01-01")
    parser.add_argument("--to", dest="end", required=True, metavar="DAY", help="excluded")
    parser.add_argument("--trades", action="store_true", help="also aggTrades")
    parser.add_argument("--data", type=Path, metavar="DIR", help="plugins.backtest.data_dir")
    parser.add_argument(
        "--rest-url", metavar="URL", help="exchange REST URL (default: exchange.rest_url)"
    )
    parser.add_argument("--settings", metavar="PATH", help="settings file")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DataError(f"{text!r} is not a day (2026-01-01)") from None


def _rest_url(args: argparse.Namespace, settings: Settings) -> str:
    if args.rest_url:
        return str(args.rest_url)
    exchange = settings.exchange
    if exchange.rest_url:
        return exchange.rest_url
    if exchange.name == "binance_futures":
        from plugins.binance.config import BinanceConfig, resolve_endpoints

        return resolve_endpoints(exchange, BinanceConfig()).rest_url
    raise DataError(
        "no exchange to download from: pass --rest-url (a standalone `tradeloop sim` prints "
        "it), set exchange.rest_url, or exchange.name: binance_futures"
    )


async def run_download(args: argparse.Namespace, settings: Settings) -> int:
    """Download every missing day; print what was written and skipped."""
    from plugins.binance.config import BinanceConfig
    from plugins.binance.rest import RestClient
    from plugins.binance.signing import HmacSigner

    from .config import BacktestSettings

    block = settings.plugins.get("backtest", {})
    interval = args.interval or str(block.get("interval", BacktestSettings.interval))
    if interval not in INTERVAL_MS:
        raise DataError(f"--interval {interval!r} is not one of {', '.join(INTERVAL_MS)}")
    first, last = _day(args.start), _day(args.end)
    if last <= first:
        raise DataError(f"--to ({last}) must be after --from ({first})")
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    folder = args.data or Path(block.get("data_dir") or Path(settings.runtime.data_dir) / "market")
    folder.mkdir(parents=True, exist_ok=True)
    rest = RestClient(
        base_url=_rest_url(args, settings),
        api_key="",
        signer=HmacSigner(""),
        config=BinanceConfig(),
    )
    await rest.start()
    written = skipped = 0
    try:
        now = rest.time.now_ms()
        for symbol in symbols:
            day = first
            while day < last:
                if day_start(day) + DAY_MS > now:
                    logger.warning("{} {}: the day has not ended yet: not written", symbol, day)
                    day += timedelta(1)
                    continue
                jobs = [(kline_name(symbol, interval, day), _klines)]
                if args.trades:
                    jobs.append((trades_name(symbol, day), _trades))
                for name, fetch in jobs:
                    path = folder / name
                    if path.exists() or path.with_suffix(".zip").exists():
                        skipped += 1
                        continue
                    lines = await fetch(rest, symbol, interval, day)
                    if not lines:
                        logger.warning("{}: the exchange has no data for it: not written", name)
                        continue
                    part = path.with_name(path.name + ".part")
                    header = KLINE_HEADER if fetch is _klines else TRADES_HEADER
                    part.write_text("\n".join([header, *lines]) + "\n", encoding="ascii")
                    part.replace(path)
                    written += 1
                    print(f"{path} ({len(lines)} rows)")
                day += timedelta(1)
    finally:
        await rest.close()
    print(f"{written} files written, {skipped} already there, in {folder}")
    return EXIT_OK


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def _klines(rest: Any, symbol: str, interval: str, day: date) -> list[str]:
    """One day of candles, paged forward by start time."""
    start = day_start(day)
    end = start + DAY_MS - 1
    step = INTERVAL_MS[interval]
    lines: list[str] = []
    while start <= end:
        params = {
            "symbol": symbol,
            "interval": interval,
            "startTime": start,
            "endTime": end,
            "limit": KLINE_PAGE,
        }
        rows: list[list[Any]] = await rest.request(
            "GET", KLINES, params, type=list[list[Any]], weight=2
        )
        rows = [r for r in rows if start <= int(r[0]) <= end]
        if not rows:
            break
        lines.extend(",".join(_cell(v) for v in r[:12]) for r in rows)
        start = int(rows[-1][0]) + step
    return lines


async def _trades(rest: Any, symbol: str, interval: str, day: date) -> list[str]:
    """One day of aggregated trades: hour windows, paged forward by id within each."""
    del interval
    lines: list[str] = []
    day_begin = day_start(day)
    for hour in range(24):
        start = day_begin + hour * HOUR_MS
        end = start + HOUR_MS - 1
        params: dict[str, Any] = {
            "symbol": symbol,
            "startTime": start,
            "endTime": end,
            "limit": TRADES_PAGE,
        }
        while True:
            rows: list[dict[str, Any]] = await rest.request(
                "GET", AGG_TRADES, params, type=list[dict[str, Any]], weight=TRADES_WEIGHT
            )
            rows = [r for r in rows if start <= int(r["T"]) <= end]
            lines.extend(
                ",".join(_cell(r[k]) for k in ("a", "p", "q", "f", "l", "T", "m")) for r in rows
            )
            if len(rows) < TRADES_PAGE:
                break
            params = {"symbol": symbol, "fromId": int(rows[-1]["a"]) + 1, "limit": TRADES_PAGE}
    return lines
