"""Settings of the simulated exchange (the ``plugins.sim`` block of settings.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

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


def check_settings(settings: SimSettings) -> None:
    """Raise ``SettingsError`` for values a type check cannot catch (unknown symbols, no USDT)."""
    unknown = [s for s in settings.symbols if s not in SYMBOL_CATALOGUE]
    if unknown or not settings.symbols or len(set(settings.symbols)) != len(settings.symbols):
        raise SettingsError(
            f"{SETTINGS_PREFIX}.symbols",
            settings.symbols,
            f"a non-empty list of distinct symbols from {sorted(SYMBOL_CATALOGUE)}",
        )
    if "USDT" not in settings.balances:
        raise SettingsError(
            f"{SETTINGS_PREFIX}.balances",
            settings.balances,
            "a mapping of asset to a non-negative amount that includes USDT",
        )
