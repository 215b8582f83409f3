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
PollInterval = Annotated[float, msgspec.Meta(ge=1, le=10 * MINUTE)]
SilentAfter = Annotated[float, msgspec.Meta(ge=0, le=DAY)]


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

    degraded_poll_interval: PollInterval = 5.0
    """Degraded mode (the user-data stream down, stale or found silent): seconds between REST
    polls of balances, positions, open orders and the trades since the last known one, until
    the stream is back and resynced (1 s to 10 min; each poll costs a reconcile's weight)."""
    trade_while_degraded: bool = False
    """In degraded mode strategies stay held (only cancels and reduce-only orders go); true
    releases them after each successful poll, so they trade on a cache at most one poll
    interval old (``ctx.freshness()`` tells them how old)."""
    silent_stream_after: SilentAfter = 60.0
    """A user-data stream that delivered nothing for this long while the account should have
    moved (it holds open orders or positions, or the bot sent orders) is probed with one REST
    snapshot per period; a change the stream did not deliver means it is silent: it is
    reconnected and resynced, within twice this bound. 0 turns the probe off; else 10 s to a
    day."""

    def __post_init__(self) -> None:
        tolerances = {"default_tolerance": self.default_tolerance}
        tolerances.update((f"tolerances.{k}", v) for k, v in self.tolerances.items())
        tolerances["entry_price_tolerance"] = self.entry_price_tolerance
        for key, value in tolerances.items():
            if not value >= 0:  # also refuses NaN
                raise ValueError(f"{key} must be a non-negative number, not {value}")
        if 0 < self.silent_stream_after < 10:
            bound = self.silent_stream_after
            raise ValueError(f"silent_stream_after must be 0 (off) or at least 10 s, not {bound}")
