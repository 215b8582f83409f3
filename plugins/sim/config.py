"""Settings of the simulated exchange (the ``plugins.sim`` block of settings.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec

from framework.errors import SettingsError
from framework.setting_types import (
    DAY,
    HOUR,
    MAX_COUNT,
    Amount,
    Asset,
    Fraction,
    Rate,
    Seconds,
    SecondsOrZero,
)
from framework.settings import convert

from .symbols import SYMBOL_CATALOGUE

DEMO_API_KEY = "tradeloop-sim-demo-key-0000000000000000000000000000000000000000000000"
DEMO_API_SECRET = "tradeloop-sim-demo-secret-00000000000000000000000000000000000000000000"

PositiveInt = Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)]
LongSeconds = Annotated[float, msgspec.Meta(ge=0.001, le=365 * DAY)]


class FaultSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Injected faults; every one defaults to 0 (off). Fractions are 0..1, times are seconds."""

    drop_user_events: Fraction = 0.0
    duplicate_user_events: Fraction = 0.0
    reorder_user_events: Fraction = 0.0
    delay_user_events: Fraction = 0.0
    disconnect_every: SecondsOrZero = 0.0
    expire_listen_key_every: SecondsOrZero = 0.0
    stale_after: SecondsOrZero = 0.0
    user_stream_down: SecondsOrZero = 0.0
    """For this long after the fault is set (on the simulator's clock), user-data connections
    are dropped and refused (503) while REST works; events of that time are lost."""
    silent_user_after: SecondsOrZero = 0.0
    """A user-data connection stops delivering events this long (on the simulator's clock)
    after it opened or the fault was set; it still answers and sends pings."""
    rest_error_rate: Fraction = 0.0
    unknown_order_outcome_rate: Fraction = 0.0
    late_order_rate: Fraction = 0.0
    """Share of accepted orders that order queries show late (``late_order_seconds``)."""
    rate_limit_burst: Fraction = 0.0
    clock_skew_ms: Annotated[int, msgspec.Meta(ge=-int(DAY * 1000), le=int(DAY * 1000))] = 0


BINANCE_PUBLIC_REST = "https://fapi.binance.com"
BINANCE_PUBLIC_STREAMS = "wss://fstream.binance.com"


class PaperSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``exchange.name: paper``: where the live prices come from (public endpoints, no keys)."""

    rest_url: str = BINANCE_PUBLIC_REST
    """Public REST of the venue: ``exchangeInfo`` (filters), ``ticker/bookTicker`` and 1-minute
    ``klines`` (the past before the start) are read from it."""
    stream_url: str = BINANCE_PUBLIC_STREAMS
    """Public market streams of the venue: ``<symbol>@bookTicker`` and ``<symbol>@aggTrade``."""
    stale_after: Seconds = 10.0
    """No message from the venue for this long: prices are stale, strategies are held and the
    connection is replaced."""
    reconnect_base: Seconds = 0.5
    """First wait before reconnecting to the venue's streams; doubles on each failure."""
    reconnect_cap: Seconds = 30.0
    """Longest wait between reconnects."""
    history_minutes: Annotated[int, msgspec.Meta(ge=0, le=1500)] = 1500
    """1-minute candles of the venue's past loaded at start (0: none)."""


def _default_balances() -> dict[str, Decimal]:
    return {"USDT": Decimal("10000")}


def _default_symbols() -> list[str]:
    return ["BTCUSDT", "ETHUSDT"]


class SimSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Everything the simulated exchange can be told; every field has a working default."""

    seed: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = 7
    """Seed of the price paths, ids and faults: the same seed gives the same run."""
    api_key: str = ""
    """The one API key signed requests may use; empty: the documented demo key."""
    api_secret: str = ""
    """Its secret; empty: the documented demo secret."""
    symbols: list[str] = msgspec.field(default_factory=_default_symbols)
    """Listed symbols. Embedded and not set: the bot's subscribed symbols the catalogue has."""
    balances: dict[Asset, Amount] = msgspec.field(default_factory=_default_balances)
    leverage: Annotated[int, msgspec.Meta(ge=1, le=125)] = 20
    dual_side_position: bool = False
    """Hedge mode: a LONG and a SHORT position per symbol, every order names its
    ``positionSide`` and none may send ``reduceOnly`` (false: one-way mode, ``BOTH``)."""
    maker_fee: Rate = Decimal("0.0002")
    taker_fee: Rate = Decimal("0.0004")
    updates_per_second: Annotated[float, msgspec.Meta(ge=0, le=100_000)] = 5.0
    connection_lifetime: LongSeconds = 86400.0
    ping_interval: Seconds = 180.0
    pong_timeout: Seconds = 600.0
    listen_key_validity: LongSeconds = 3600.0
    """Up to a year: tests on a manual clock jump days and keep the key alive."""
    user_event_delay: Annotated[float, msgspec.Meta(ge=0, le=HOUR)] = 1.0
    late_order_seconds: Annotated[float, msgspec.Meta(ge=0, le=HOUR)] = 1.0
    """``faults.late_order_rate``: a late order stays hidden from order queries this long."""
    late_order_queries: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    """``faults.late_order_rate``: ... and until it was asked for by id this many times."""
    weight_limit_1m: PositiveInt = 2400
    order_limit_10s: PositiveInt = 300
    order_limit_1m: PositiveInt = 1200
    rate_limit_strikes: Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)] = 3
    ban_seconds: Seconds = 120.0
    max_recv_window_ms: PositiveInt = 60000
    trade_lite: bool = True
    persist: bool = True
    """Keep the paper account in ``<runtime.data_dir>/sim/account.json`` across runs (false:
    every start is a fresh account from ``balances`` and nothing is written)."""
    save_interval: Seconds = 10.0
    """Seconds between saves of a changed account while running (and always at stop)."""
    faults: FaultSettings = msgspec.field(default_factory=FaultSettings)
    paper: PaperSettings = msgspec.field(default_factory=PaperSettings)
    """Used with ``exchange.name: paper`` only."""

    def __post_init__(self) -> None:
        if not self.api_key:
            msgspec.structs.force_setattr(self, "api_key", DEMO_API_KEY)
        if not self.api_secret:
            msgspec.structs.force_setattr(self, "api_secret", DEMO_API_SECRET)


SETTINGS_PREFIX = "plugins.sim"


def parse_sim_settings(raw: Mapping[str, Any]) -> SimSettings:
    """Validate a ``plugins.sim`` mapping; raise ``SettingsError`` naming the bad key."""
    settings = convert(dict(raw), SimSettings, prefix=SETTINGS_PREFIX)
    check_settings(settings)
    return settings


def check_settings(
    settings: SimSettings, catalogue: Mapping[str, object] = SYMBOL_CATALOGUE
) -> None:
    """Raise ``SettingsError`` for values a type check cannot catch (symbols ``catalogue``
    lacks, no USDT)."""
    unknown = [s for s in settings.symbols if s not in catalogue]
    if unknown or not settings.symbols or len(set(settings.symbols)) != len(settings.symbols):
        raise SettingsError(
            f"{SETTINGS_PREFIX}.symbols",
            settings.symbols,
            f"a non-empty list of distinct symbols from {sorted(catalogue)}",
        )
    check_paper(settings.paper)
    if "USDT" not in settings.balances:
        raise SettingsError(
            f"{SETTINGS_PREFIX}.balances",
            settings.balances,
            "a mapping of asset to a non-negative amount that includes USDT",
        )


def check_paper(paper: PaperSettings) -> None:
    """The venue's URLs are absolute http(s) and ws(s) URLs; the reconnect cap is not below
    its base."""
    prefix = f"{SETTINGS_PREFIX}.paper"
    for key, schemes in (("rest_url", ("http", "https")), ("stream_url", ("ws", "wss"))):
        url = getattr(paper, key)
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.hostname or parts.query or parts.fragment:
            raise SettingsError(
                f"{prefix}.{key}",
                url,
                f"an absolute {' or '.join(schemes)} URL of the venue, without query",
            )
    if paper.reconnect_cap < paper.reconnect_base:
        raise SettingsError(
            f"{prefix}.reconnect_cap",
            paper.reconnect_cap,
            f"at least plugins.sim.paper.reconnect_base ({paper.reconnect_base})",
        )
