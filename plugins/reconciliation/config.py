"""``plugins.reconciliation`` settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

from framework.setting_types import DAY, HOUR, MINUTE, Amount, Asset, Rate

Interval = Annotated[float, msgspec.Meta(ge=10, le=DAY)]
Delay = Annotated[float, msgspec.Meta(ge=0, le=10 * MINUTE)]
Retry = Annotated[float, msgspec.Meta(ge=0.01, le=HOUR)]
Queries = Annotated[int, msgspec.Meta(ge=1, le=1000)]
TradeQueries = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class ReconciliationSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """When reconciliation runs, what counts as a difference, and how failures are retried."""

    interval: Interval = 900.0
    """Seconds between periodic reconciles (besides the startup run and resyncs), 10 s to a
    day: a run costs REST weight (the account, positions and open orders)."""
    confirm_delay: Delay = 3.0
    """A difference on an entry older than the snapshot is re-checked after this long (longer
    than the user-data stream's latency) before it counts as drift; 0 re-checks at once."""
    default_tolerance: Amount = Decimal("0.00000001")
    """Largest wallet-balance difference that is not drift, for assets not in ``tolerances``."""
    tolerances: dict[Asset, Amount] = msgspec.field(default_factory=dict)
    """Per-asset wallet-balance tolerance, e.g. ``{USDT: "0.0001"}``."""
    entry_price_tolerance: Rate = Decimal(0)
    """Largest relative difference of a position's entry price that is not drift (0: exact;
    the stream's ``ep`` and REST's ``entryPrice`` are the same number on the simulator)."""
    retry_base: Retry = 1.0
    """First wait before retrying a failed startup or resync run (doubles each time)."""
    retry_cap: Retry = 60.0
    """Longest wait between retries of a failed startup or resync run."""
    hold_strategies: bool = True
    """Hold strategies (no ticks, no new orders) until the startup run and each resync run
    succeeded."""
    wait_for_stream: Delay = 10.0
    """The startup run waits up to this long for the user-data stream to connect, so that
    nothing falls between the snapshot and the stream."""
    max_order_queries: Queries = 20
    """Orders open in the cache but not on the exchange are queried one by one (weight 1);
    at most this many per run, the rest in the next run."""
    max_fill_queries: Queries = 10
    """Orders whose executed quantity exceeds the fills the cache recorded for them have their
    trades listed (``GET /fapi/v1/userTrades``, weight 5) to recover the lost fills; at most
    this many per run, the rest in the next run."""
    max_trade_queries: TradeQueries = 10
    """Pages of the per-symbol trade sweep per run (``GET /fapi/v1/userTrades?fromId=``,
    weight 5, up to 1,000 trades each): every trade of the account since the last known trade
    id reaches the cache once. Symbols swept longest ago go first; the rest in the next run.
    0 turns the sweep off (only orders the cache knows get their fills read back)."""

    def __post_init__(self) -> None:
        tolerances = {"default_tolerance": self.default_tolerance}
        tolerances.update((f"tolerances.{k}", v) for k, v in self.tolerances.items())
        tolerances["entry_price_tolerance"] = self.entry_price_tolerance
        for key, value in tolerances.items():
            if not value >= 0:  # also refuses NaN
                raise ValueError(f"{key} must be a non-negative number, not {value}")
