"""Exchange rules: each symbol's filters (``GET /fapi/v1/exchangeInfo``), leverage brackets
(``GET /fapi/v1/leverageBracket``) and the account's leverage (``GET /fapi/v1/symbolConfig``),
read at the decode boundary into ``framework.SymbolRules``.

Every entry is decoded and checked on its own with the connector's value checks (``checks``):
an entry holding an insane value (a ``NaN`` tick, a negative step, a malformed name) is dropped,
counted and logged, and the rules read before for that symbol are kept. ``RulesService`` loads
them at start, on a schedule (``plugins.binance.rules_refresh_interval``) and at once after the
exchange refused an order for a filter, and publishes them to the core (``ctx.publish_rules``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterable
from decimal import Decimal
from typing import Any, Final

import msgspec
from loguru import logger

from framework.rules import LeverageBracket, SymbolRules

from .checks import Amounts, Horizon, Names, amounts_problem
from .errors import BinanceError, RateLimitWaitTooLong
from .rest import RestClient
from .rows import BadRow, Rows, key_of

EXCHANGE_INFO_PATH: Final = "/fapi/v1/exchangeInfo"
EXCHANGE_INFO_WEIGHT: Final = 1  # FACTS.md §1.2
BRACKETS_PATH: Final = "/fapi/v1/leverageBracket"
BRACKETS_WEIGHT: Final = 1  # Notional-and-Leverage-Brackets (USER_DATA), weight 1
SYMBOL_CONFIG_PATH: Final = "/fapi/v1/symbolConfig"
SYMBOL_CONFIG_WEIGHT: Final = 5  # Symbol-Config (USER_DATA), weight 5
REFRESH_SPACING: Final = 5.0
"""Seconds between two refreshes asked for by refused orders (a burst of refusals reads the
rules once)."""
MAX_LIMIT: Final = 1_000_000
MAX_LEVERAGE: Final = 1000
ZERO: Final = Decimal(0)


# ------------------------------------------------------------------------------ wire


class WireFilter(msgspec.Struct, frozen=True):
    """One ``filters[]`` entry: every field any USD-M filter uses, absent ones ``None``."""

    filterType: str
    minPrice: Decimal | None = None
    maxPrice: Decimal | None = None
    tickSize: Decimal | None = None
    minQty: Decimal | None = None
    maxQty: Decimal | None = None
    stepSize: Decimal | None = None
    notional: Decimal | None = None
    multiplierUp: Decimal | None = None
    multiplierDown: Decimal | None = None
    limit: int | None = None


class WireSymbol(msgspec.Struct, frozen=True):
    """One ``symbols[]`` entry of ``exchangeInfo``: what the rules and the start check read."""

    symbol: str
    status: str = ""
    filters: list[WireFilter] = msgspec.field(default_factory=list)


class _InfoHead(msgspec.Struct, frozen=True):
    symbols: list[msgspec.Raw] = msgspec.field(default_factory=list)


class WireBracket(msgspec.Struct, frozen=True):
    """One ``brackets[]`` entry of ``leverageBracket``."""

    bracket: int
    initialLeverage: int
    notionalCap: Decimal
    notionalFloor: Decimal
    maintMarginRatio: Decimal
    cum: Decimal = ZERO


class WireSymbolBrackets(msgspec.Struct, frozen=True):
    """One symbol of ``leverageBracket``."""

    symbol: str
    brackets: list[WireBracket] = msgspec.field(default_factory=list)


class WireSymbolConfig(msgspec.Struct, frozen=True):
    """One symbol of ``symbolConfig``: the account's leverage on it (the rest is not read)."""

    symbol: str
    leverage: int


# ---------------------------------------------------------------------------- checks


def _by_type(entry: WireSymbol) -> dict[str, WireFilter]:
    return {f.filterType: f for f in entry.filters}


def symbol_problem(entry: WireSymbol, names: Names, horizon: Horizon) -> str | None:
    """What is wrong with one ``exchangeInfo`` symbol, or ``None`` if its rules are sane."""
    problem = names.problem(entry.symbol)
    if problem is not None:
        return problem
    if not 0 < len(entry.status) <= 32 or not entry.status.isascii():
        return f"status {entry.status!r} is not a status"
    filters = _by_type(entry)
    for needed in ("PRICE_FILTER", "LOT_SIZE"):
        if needed not in filters:
            return f"no {needed} filter"
    for f in entry.filters:
        amounts: Amounts = (
            ("minPrice", f.minPrice, False),
            ("maxPrice", f.maxPrice, False),
            ("tickSize", f.tickSize, False),
            ("minQty", f.minQty, False),
            ("maxQty", f.maxQty, False),
            ("stepSize", f.stepSize, False),
            ("notional", f.notional, False),
            ("multiplierUp", f.multiplierUp, False),
            ("multiplierDown", f.multiplierDown, False),
        )
        problem = amounts_problem(f.filterType, amounts)
        if problem is not None:
            return problem
        if f.limit is not None and not 0 <= f.limit <= MAX_LIMIT:
            return f"{f.filterType}.limit: {f.limit} is out of range"
    for name in ("LOT_SIZE", "MARKET_LOT_SIZE"):
        lot = filters.get(name)
        if lot is None:
            continue
        if lot.minQty is None or lot.maxQty is None or lot.stepSize is None:
            return f"{name}: minQty, maxQty and stepSize are required"
        if lot.maxQty and lot.minQty > lot.maxQty:
            return f"{name}: minQty {lot.minQty} > maxQty {lot.maxQty}"
    price = filters["PRICE_FILTER"]
    if price.tickSize is None:
        return "PRICE_FILTER: tickSize is required"
    if price.minPrice and price.maxPrice and price.minPrice > price.maxPrice:
        return f"PRICE_FILTER: minPrice {price.minPrice} > maxPrice {price.maxPrice}"
    return None


def brackets_problem(entry: WireSymbolBrackets, names: Names, horizon: Horizon) -> str | None:
    """What is wrong with one symbol's leverage brackets, or ``None``."""
    problem = names.problem(entry.symbol)
    if problem is not None:
        return problem
    for i, b in enumerate(entry.brackets):
        where = f"brackets[{i}]"
        if not 1 <= b.initialLeverage <= MAX_LEVERAGE:
            return f"{where}.initialLeverage: {b.initialLeverage} is out of range"
        amounts: Amounts = (
            ("notionalCap", b.notionalCap, False),
            ("notionalFloor", b.notionalFloor, False),
            ("maintMarginRatio", b.maintMarginRatio, False),
            ("cum", b.cum, True),
        )
        problem = amounts_problem(where, amounts)
        if problem is not None:
            return problem
        if b.notionalFloor > b.notionalCap:
            return f"{where}: notionalFloor {b.notionalFloor} > notionalCap {b.notionalCap}"
    return None


def config_problem(entry: WireSymbolConfig, names: Names, horizon: Horizon) -> str | None:
    """What is wrong with one symbol's ``symbolConfig`` entry, or ``None``."""
    problem = names.problem(entry.symbol)
    if problem is not None:
        return problem
    if not 1 <= entry.leverage <= MAX_LEVERAGE:
        return f"leverage: {entry.leverage} is out of range"
    return None


class InfoReader:
    """Decodes ``exchangeInfo`` into its symbols, each decoded and checked on its own (pure,
    thread-safe: a full answer of a few MB is decoded in a worker thread)."""

    def __init__(self, names: Names, horizon: Horizon) -> None:
        self._head = msgspec.json.Decoder(_InfoHead)
        self._entry = msgspec.json.Decoder(WireSymbol)
        self._names = names
        self._horizon = horizon

    def __call__(self, body: bytes) -> Rows[WireSymbol]:
        """The sane symbols of ``body`` and the dropped ones."""
        out: Rows[WireSymbol] = Rows()
        for raw in self._head.decode(body).symbols:
            try:
                entry = self._entry.decode(raw)
            except msgspec.ValidationError as exc:
                problem = str(exc)
            else:
                found = symbol_problem(entry, self._names, self._horizon)
                if found is None:
                    out.good.append(entry)
                    continue
                problem = found
            key = key_of(raw, self._names)
            out.bad.append(BadRow(problem, symbol=key.symbol))
        return out


# ------------------------------------------------------------------------ conversion


def bracket_of(b: WireBracket) -> LeverageBracket:
    """The framework ``LeverageBracket``."""
    return LeverageBracket(
        bracket=b.bracket,
        initial_leverage=b.initialLeverage,
        notional_floor=b.notionalFloor,
        notional_cap=b.notionalCap,
        maint_margin_ratio=b.maintMarginRatio,
        cum=b.cum,
    )


def rules_of(
    entry: WireSymbol, brackets: Iterable[LeverageBracket] = (), leverage: int = 0
) -> SymbolRules:
    """The framework ``SymbolRules`` of a checked ``exchangeInfo`` symbol (absent optional
    filters are off: 0; ``leverage`` 0: not known)."""
    filters = _by_type(entry)
    price = filters["PRICE_FILTER"]
    lot = filters["LOT_SIZE"]
    market = filters.get("MARKET_LOT_SIZE", lot)
    notional = filters.get("MIN_NOTIONAL")
    percent = filters.get("PERCENT_PRICE")
    orders = filters.get("MAX_NUM_ORDERS")
    return SymbolRules(
        symbol=entry.symbol,
        status=entry.status,
        tick_size=price.tickSize or ZERO,
        min_price=price.minPrice or ZERO,
        max_price=price.maxPrice or ZERO,
        step_size=lot.stepSize or ZERO,
        min_qty=lot.minQty or ZERO,
        max_qty=lot.maxQty or ZERO,
        market_step_size=market.stepSize or ZERO,
        market_min_qty=market.minQty or ZERO,
        market_max_qty=market.maxQty or ZERO,
        min_notional=(notional.notional or ZERO) if notional is not None else ZERO,
        multiplier_up=(percent.multiplierUp or ZERO) if percent is not None else ZERO,
        multiplier_down=(percent.multiplierDown or ZERO) if percent is not None else ZERO,
        max_num_orders=(orders.limit or 0) if orders is not None else 0,
        brackets=tuple(brackets),
        leverage=leverage,
    )


# --------------------------------------------------------------------------- service


class RulesStats(msgspec.Struct, kw_only=True):
    """Counters for the run summary's ``rules`` section."""

    loads: int = 0
    failures: int = 0
    scheduled: int = 0
    after_refusal: int = 0
    dropped: int = 0
    bracket_failures: int = 0
    config_failures: int = 0
    symbols: int = 0


class RulesService:
    """Loads the rules, keeps the last sane ones per symbol, publishes them."""

    def __init__(
        self,
        rest: RestClient,
        *,
        publish: Callable[[list[SymbolRules]], None] | None = None,
        spawn: Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rest = rest
        self._publish = publish
        self._spawn = spawn
        self._monotonic = monotonic
        self.rules: dict[str, SymbolRules] = {}
        self.listed: frozenset[str] = frozenset()  # TRADING symbols of the last load
        self.stats = RulesStats()
        self._brackets: dict[str, tuple[LeverageBracket, ...]] = {}
        self._leverage: dict[str, int] = {}
        self._running: asyncio.Task[None] | None = None
        self._last_refusal_refresh = -REFRESH_SPACING
        self._loaded = asyncio.Event()

    async def load(self, *, brackets: bool = True) -> None:
        """Read ``exchangeInfo`` (weight 1), ``leverageBracket`` (weight 1, signed) and
        ``symbolConfig`` (weight 5, signed), keep the sane entries (an insane one keeps its
        symbol's previous rules) and publish.

        A failed ``exchangeInfo`` raises (at start the connector cannot check its symbols);
        a failed ``leverageBracket`` or ``symbolConfig`` is logged and the previous brackets
        and leverage are kept.
        """
        try:
            rows = await self.rest.request(
                "GET",
                EXCHANGE_INFO_PATH,
                type=Rows[WireSymbol],
                weight=EXCHANGE_INFO_WEIGHT,
                decode=InfoReader(self.rest.names, self.rest.horizon()),
            )
        except Exception:
            self.stats.failures += 1
            raise
        if brackets:
            await self._load_brackets()
            await self._load_leverage()
        self.stats.loads += 1
        self.stats.dropped += len(rows.bad)
        rules = dict(self.rules)
        for entry in rows.good:
            rules[entry.symbol] = rules_of(
                entry, self._brackets.get(entry.symbol, ()), self._leverage.get(entry.symbol, 0)
            )
        listed_now = {e.symbol for e in rows.good} | {b.symbol for b in rows.bad if b.symbol}
        # A symbol the venue no longer lists is gone; an unreadable one keeps its old rules.
        rules = {s: r for s, r in rules.items() if s in listed_now}
        changed = [s for s, r in rules.items() if self.rules.get(s) != r]
        self.rules = rules
        # Listed: TRADING, or on the venue with rules that could not be read this time.
        trading = {s for s, r in rules.items() if r.status == "TRADING"}
        self.listed = frozenset(trading | {b.symbol for b in rows.bad if b.symbol})
        self.stats.symbols = len(rules)
        if changed and self.stats.loads > 1:
            logger.info("exchange rules changed for {}", ", ".join(sorted(changed)[:20]))
        if self._publish is not None:
            self._publish(list(rules.values()))
        self._loaded.set()

    async def _load_brackets(self) -> None:
        try:
            rows = await self.rest.request(
                "GET",
                BRACKETS_PATH,
                type=Rows[WireSymbolBrackets],
                signed=True,
                weight=BRACKETS_WEIGHT,
                decode=self.rest.rows(WireSymbolBrackets, brackets_problem),
            )
        except (BinanceError, RateLimitWaitTooLong) as exc:
            self.stats.bracket_failures += 1
            logger.warning("could not read leverage brackets (kept the last ones): {}", exc)
            return
        for entry in rows.good:
            self._brackets[entry.symbol] = tuple(
                bracket_of(b) for b in sorted(entry.brackets, key=lambda b: b.notionalFloor)
            )

    async def _load_leverage(self) -> None:
        try:
            rows = await self.rest.request(
                "GET",
                SYMBOL_CONFIG_PATH,
                type=Rows[WireSymbolConfig],
                signed=True,
                weight=SYMBOL_CONFIG_WEIGHT,
                decode=self.rest.rows(WireSymbolConfig, config_problem),
            )
        except (BinanceError, RateLimitWaitTooLong) as exc:
            self.stats.config_failures += 1
            logger.warning("could not read the symbols' leverage (kept the last): {}", exc)
            return
        for entry in rows.good:
            self._leverage[entry.symbol] = entry.leverage

    def refresh_soon(self, reason: str) -> None:
        """Reload in the background (after a refused order): at most once every
        ``REFRESH_SPACING`` seconds, never two at a time."""
        now = self._monotonic()
        if now - self._last_refusal_refresh < REFRESH_SPACING:
            return
        if self._running is not None and not self._running.done():
            return
        self._last_refusal_refresh = now
        self.stats.after_refusal += 1
        logger.info("reloading the exchange rules: {}", reason)
        coro = self._quietly()
        if self._spawn is not None:
            self._running = self._spawn(coro, "rules-refresh")
        else:
            self._running = asyncio.get_running_loop().create_task(coro, name="binance:rules")

    async def _quietly(self) -> None:
        try:
            await self.load()
        except (BinanceError, RateLimitWaitTooLong) as exc:
            logger.warning("reloading the exchange rules failed (kept the last ones): {}", exc)

    async def refresh_loop(self, every: float, sleep: Callable[[float], Any]) -> None:
        """Reload every ``every`` seconds (the connector's schedule); failures are logged."""
        while True:
            await sleep(every)
            self.stats.scheduled += 1
            await self._quietly()

    async def close(self) -> None:
        """Cancel a background refresh."""
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)
            self._running = None
