"""Paper trading: the venue's public market data, read without keys, feeding the local engine.

``load_venue`` reads the venue's public REST once at start: ``exchangeInfo`` (each contract's
filters become a ``SymbolSpec``), ``ticker/bookTicker`` (the price now) and 1-minute ``klines``
(the past before the start). ``UpstreamFeed`` then follows the public ``<symbol>@bookTicker`` and
``<symbol>@aggTrade`` streams and hands every quote and trade to the ``SimExchange``, which
matches the paper account's orders on them and serves them to the bot's connector. It
reconnects with backoff; while it has no fresh prices it calls ``on_stale`` (the plugin holds
the strategies) and, at the first quote after, ``on_fresh``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from loguru import logger

from framework.errors import TradeloopError
from framework.tasks import cancel_and_wait

from .candles import MINUTE_MS, Candle, open_time_of
from .config import PaperSettings
from .symbols import SymbolSpec

if TYPE_CHECKING:
    from .exchange import SimExchange

MARGIN_ASSET = "USDT"
REST_TIMEOUT = 15.0
KLINES_PAGE = 1500
LOG_EVERY = 100  # log the 1st, then every 100th malformed message


class VenueError(TradeloopError):
    """The venue's public REST could not be read or does not list what the bot trades."""


@dataclass(frozen=True, slots=True)
class Venue:
    """What the paper exchange lists, read from the venue at start."""

    specs: dict[str, SymbolSpec]
    history: dict[str, list[Candle]]
    unlisted: tuple[str, ...]  # asked for, not tradable there (absent, not TRADING, not USDT)


@dataclass(slots=True)
class FeedCounters:
    """What the feed saw: messages applied, malformed ones, connections and stale periods."""

    quotes: int = 0
    trades: int = 0
    malformed: int = 0
    connects: int = 0
    disconnects: int = 0
    stale: int = 0
    last_error: str = ""


def _dec(value: object) -> Decimal:
    if not isinstance(value, str | int):
        raise ValueError(f"not a number: {value!r}")
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise ValueError(f"not a finite non-negative number: {value!r}")
    return number


def _places(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def spec_of(
    entry: Mapping[str, Any], bid: Decimal, bid_qty: Decimal, ask: Decimal, ask_qty: Decimal
) -> SymbolSpec:
    """One ``exchangeInfo`` symbol and its quote now as the contract the engine enforces."""
    filters = {f.get("filterType"): f for f in entry.get("filters", ()) if isinstance(f, dict)}
    price_f, lot, market = filters["PRICE_FILTER"], filters["LOT_SIZE"], filters["MARKET_LOT_SIZE"]
    tick = _dec(price_f["tickSize"])
    step = _dec(lot["stepSize"])
    if tick <= 0 or step <= 0:
        raise ValueError("tickSize and stepSize must be positive")
    pp = max(int(entry.get("pricePrecision", 0)), _places(tick))
    qp = max(int(entry.get("quantityPrecision", 0)), _places(step))
    min_qty = _dec(lot["minQty"])
    top = max(min_qty, ((bid_qty + ask_qty) / 2 // step) * step, step)
    percent = filters.get("PERCENT_PRICE", {})
    mid = ((bid + ask) / 2 // tick) * tick
    return SymbolSpec(
        symbol=str(entry["symbol"]),
        base_asset=str(entry.get("baseAsset", "")),
        tick_size=tick.quantize(Decimal(1).scaleb(-pp)),
        step_size=step.quantize(Decimal(1).scaleb(-qp)),
        min_qty=min_qty,
        max_qty=_dec(lot["maxQty"]),
        market_max_qty=_dec(market["maxQty"]),
        min_notional=_dec(filters.get("MIN_NOTIONAL", {}).get("notional", "0")),
        start_price=max(mid, tick).quantize(Decimal(1).scaleb(-pp)),
        top_qty=top.quantize(Decimal(1).scaleb(-qp)),
        price_precision=pp,
        quantity_precision=qp,
        quote_asset=str(entry.get("quoteAsset", MARGIN_ASSET)),
        multiplier_up=_dec(percent.get("multiplierUp", "1.0500")),
        multiplier_down=_dec(percent.get("multiplierDown", "0.9500")),
        max_num_orders=int(filters.get("MAX_NUM_ORDERS", {}).get("limit", 200)),
        max_price=_dec(price_f.get("maxPrice", "4529764")),
        min_price=_dec(price_f["minPrice"]) if "minPrice" in price_f else None,
        market_step_size=_dec(market["stepSize"]) if "stepSize" in market else None,
        market_min_qty=_dec(market["minQty"]) if "minQty" in market else None,
    )


def _candle(row: list[Any], pp: int, qp: int) -> Candle:
    def units(text: object, places: int) -> int:
        return int(_dec(text).scaleb(places))

    return Candle(
        int(row[0]),
        int(row[0]) + MINUTE_MS - 1,
        units(row[1], pp),
        units(row[2], pp),
        units(row[3], pp),
        units(row[4], pp),
        volume=units(row[5], qp),
        quote_volume=units(row[7], pp + qp),
        trades=int(row[8]),
        taker_buy_volume=units(row[9], qp),
        taker_buy_quote=units(row[10], pp + qp),
    )


async def _get(session: aiohttp.ClientSession, url: str, params: dict[str, Any]) -> Any:
    try:
        async with session.get(url, params=params) as response:
            body = await response.read()
            if response.status != 200:
                raise VenueError(f"{url} answered {response.status}: {body[:200]!r}")
            return orjson.loads(body)
    except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
        raise VenueError(f"{url} could not be read: {exc!r}") from exc


async def load_venue(
    rest_url: str, symbols: Iterable[str], *, history_minutes: int, now_ms: int
) -> Venue:
    """Read the contracts, their quotes now and their 1-minute past from the public REST."""
    wanted = list(dict.fromkeys(symbols))
    base = rest_url.rstrip("/")
    timeout = aiohttp.ClientTimeout(total=REST_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        info = await _get(session, f"{base}/fapi/v1/exchangeInfo", {})
        entries = {
            e.get("symbol"): e
            for e in (info.get("symbols", []) if isinstance(info, dict) else [])
            if isinstance(e, dict)
        }
        tradable = [
            s
            for s in wanted
            if s in entries
            and entries[s].get("status", "TRADING") == "TRADING"
            and entries[s].get("quoteAsset", MARGIN_ASSET) == MARGIN_ASSET
        ]
        unlisted = tuple(s for s in wanted if s not in tradable)
        specs: dict[str, SymbolSpec] = {}
        history: dict[str, list[Candle]] = {}
        start_open = open_time_of("1m", now_ms)
        for symbol in tradable:
            book = await _get(session, f"{base}/fapi/v1/ticker/bookTicker", {"symbol": symbol})
            try:
                spec = spec_of(
                    entries[symbol],
                    _dec(book["bidPrice"]),
                    _dec(book["bidQty"]),
                    _dec(book["askPrice"]),
                    _dec(book["askQty"]),
                )
            except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                raise VenueError(f"{symbol}: the venue's contract cannot be read: {exc}") from exc
            specs[symbol] = spec
            if history_minutes:
                rows = await _get(
                    session,
                    f"{base}/fapi/v1/klines",
                    {
                        "symbol": symbol,
                        "interval": "1m",
                        "endTime": start_open - 1,
                        "limit": min(history_minutes, KLINES_PAGE),
                    },
                )
                try:
                    candles = [
                        _candle(r, spec.price_precision, spec.quantity_precision) for r in rows
                    ]
                except (IndexError, TypeError, ValueError, InvalidOperation) as exc:
                    raise VenueError(f"{symbol}: the venue's klines cannot be read: {exc}") from exc
                history[symbol] = [c for c in candles if c.open_time < start_open]
        return Venue(specs, history, unlisted)


class UpstreamFeed:
    """Follows the venue's public bookTicker and aggTrade streams into a ``SimExchange``."""

    def __init__(
        self,
        sim: SimExchange,
        settings: PaperSettings,
        *,
        on_stale: Callable[[str], None],
        on_fresh: Callable[[], None],
        rng: random.Random | None = None,
    ) -> None:
        self.sim = sim
        self.settings = settings
        self.counters = FeedCounters()
        self._on_stale = on_stale
        self._on_fresh = on_fresh
        self._rng = rng or random.Random()
        self._symbols = {s.lower(): s for s in sim.paths}
        streams = [f"{s}@{kind}" for s in self._symbols for kind in ("bookTicker", "aggTrade")]
        self.url = f"{settings.stream_url.rstrip('/')}/stream?streams={'/'.join(streams)}"
        self.fresh = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start following the streams (a task; ``close`` ends it)."""
        self._task = asyncio.create_task(self._run(), name="paper-upstream")

    async def close(self) -> None:
        """Stop following the streams and close the connection."""
        if self._task is not None:
            task, self._task = self._task, None
            await cancel_and_wait(task)

    async def _run(self) -> None:
        delay = self.settings.reconnect_base
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    got_data = await self._follow(session)
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    got_data = False
                    self.counters.last_error = repr(exc)
                    logger.warning("paper: the venue's streams failed: {!r}", exc)
                self._went_stale("the venue's price stream is down; reconnecting")
                if got_data:
                    delay = self.settings.reconnect_base
                await asyncio.sleep(delay * (0.5 + self._rng.random() / 2))
                delay = min(delay * 2, self.settings.reconnect_cap)

    async def _follow(self, session: aiohttp.ClientSession) -> bool:
        """One connection until it closes or falls silent; whether it delivered a quote."""
        got_data = False
        async with session.ws_connect(self.url, autoping=True, heartbeat=None) as ws:
            self.counters.connects += 1
            logger.info("paper: following the venue's prices at {}", self.url)
            while True:
                try:
                    message = await ws.receive(timeout=self.settings.stale_after)
                except TimeoutError:
                    logger.warning(
                        "paper: no price from the venue for {} s; reconnecting",
                        self.settings.stale_after,
                    )
                    return got_data
                if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    if self.handle(message.data) and not got_data:
                        got_data = True
                    continue
                if message.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    self.counters.disconnects += 1
                    logger.warning("paper: the venue closed its price stream ({})", message.type)
                    return got_data

    def handle(self, data: str | bytes) -> bool:
        """Apply one combined-stream message; whether it was a quote. Never raises: a malformed
        message is counted and logged."""
        try:
            envelope = orjson.loads(data)
            payload = envelope["data"] if "data" in envelope else envelope
            if "result" in envelope and "id" in envelope:
                return False  # an answer to a request we never send
            symbol = self._symbols[str(payload["s"]).lower()]
            kind = payload.get("e")
            if kind == "bookTicker" or (kind is None and "b" in payload and "a" in payload):
                bid, ask = _dec(payload["b"]), _dec(payload["a"])
                if not 0 < bid < ask:
                    raise ValueError(f"crossed or empty book: bid {bid} ask {ask}")
                self.sim.apply_quote(symbol, bid, _dec(payload["B"]), ask, _dec(payload["A"]))
                self.counters.quotes += 1
                if not self.fresh:
                    self.fresh = True
                    self._on_fresh()
                return True
            if kind == "aggTrade":
                first, last = int(payload["f"]), int(payload["l"])
                self.sim.apply_trade(
                    symbol,
                    _dec(payload["p"]),
                    _dec(payload["q"]),
                    bool(payload["m"]),
                    last - first + 1,
                )
                self.counters.trades += 1
                return False
            raise ValueError(f"unexpected event {kind!r}")
        except Exception as exc:  # noqa: BLE001 - a bad message never stops the feed
            self.counters.malformed += 1
            if self.counters.malformed % LOG_EVERY == 1:
                logger.warning(
                    "paper: malformed message from the venue ignored ({} so far): {!r} {!r}",
                    self.counters.malformed,
                    exc,
                    bytes(data[:200]) if isinstance(data, bytes) else data[:200],
                )
            return False

    def _went_stale(self, reason: str) -> None:
        if self.fresh:
            self.fresh = False
            self.counters.stale += 1
        self._on_stale(reason)
