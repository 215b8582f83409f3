"""The plugin's own settings (``plugins.binance``) and the exchange URLs it resolves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec

from framework.setting_types import DAY, HOUR, MINUTE, PositiveInt
from framework.settings import ExchangeSettings

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
Fraction = Annotated[float, msgspec.Meta(gt=0, le=1)]

# USD-M endpoints (FACTS.md §1.1).
LIVE_REST_URL = "https://fapi.binance.com"
LIVE_STREAM_URL = "wss://fstream.binance.com"
TESTNET_REST_URL = "https://demo-fapi.binance.com"
TESTNET_STREAM_URL = "wss://fstream.binancefuture.com"


class BinanceConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``plugins.binance``: timings, retry policy and rate-limit thresholds of the connector."""

    # user-data stream
    keepalive_interval: Annotated[float, msgspec.Meta(ge=1, le=55 * MINUTE)] = 1800.0
    """PUT /fapi/v1/listenKey every this many seconds (a key lives 60 minutes)."""
    stale_after: Annotated[float, msgspec.Meta(ge=0.1, le=HOUR)] = 90.0
    """A connection with no event and no pong for this long is stale and is replaced."""
    market_silence_after: Annotated[float, msgspec.Meta(ge=0, le=DAY)] = 60.0
    """The market stream is stale after this long without a tick even if pings are answered
    (a stalled connection, PITFALLS 10/12); 0 turns this off."""
    user_silence_after: Annotated[float, msgspec.Meta(ge=0, le=DAY)] = 0.0
    """The same for the user-data stream; off by default, since an idle account is quiet."""
    ping_interval: Annotated[float, msgspec.Meta(ge=0.1, le=10 * MINUTE)] = 30.0
    """Send a WebSocket ping this often, so a quiet but healthy connection still shows life."""
    reconnect_base: Annotated[float, msgspec.Meta(ge=0.01, le=MINUTE)] = 0.5
    reconnect_cap: Annotated[float, msgspec.Meta(ge=0.01, le=HOUR)] = 30.0
    rotate_after: Annotated[float, msgspec.Meta(ge=0.1, le=DAY)] = 23.5 * 3600
    """Open a replacement socket after this long (Binance closes connections at 24 h)."""
    rotate_overlap: Annotated[float, msgspec.Meta(ge=0, le=MINUTE)] = 1.0
    """Keep the old socket reading this long after the new one is connected."""
    # REST
    rest_timeout: Annotated[float, msgspec.Meta(ge=0.1, le=5 * MINUTE)] = 10.0
    retries: Annotated[int, msgspec.Meta(ge=0, le=100)] = 3
    """Extra attempts for idempotent requests (GET, DELETE, listenKey) after a failure."""
    retry_base: Annotated[float, msgspec.Meta(ge=0.001, le=MINUTE)] = 0.2
    retry_cap: Annotated[float, msgspec.Meta(ge=0.001, le=HOUR)] = 5.0
    resolve_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    """Queries by client order id before an unknown order outcome is reported as unresolved."""
    not_found_spacing: Annotated[float, msgspec.Meta(ge=0.01, le=MINUTE)] = 1.0
    """An order whose outcome was unknown is sent again only after two "does not exist"
    answers in a row at least this many seconds apart (an exchange can show an order late)."""
    time_sync_interval: Annotated[float, msgspec.Meta(ge=1, le=DAY)] = 300.0
    max_rate_wait: Annotated[float, msgspec.Meta(ge=0, le=HOUR)] = 5.0
    """Longest a request waits for a 429/418 back-off; longer and it fails fast instead."""
    # limits on what the exchange sends (docs/connector.md, "Size limits", "Hostile values")
    max_body_bytes: Annotated[int, msgspec.Meta(ge=64 * KIB, le=GIB)] = 16 * MIB
    """A REST answer longer than this is refused while it is read (the largest real ones, all
    open orders of a busy account or a full exchangeInfo, are a few MB)."""
    decode_in_thread_bytes: Annotated[int, msgspec.Meta(ge=KIB, le=GIB)] = 256 * KIB
    """A REST answer longer than this is decoded in a worker thread, off the event loop."""
    max_frame_bytes: Annotated[int, msgspec.Meta(ge=64 * KIB, le=256 * MIB)] = MIB
    """A WebSocket message longer than this closes the connection (then reconnect and
    resync); real user-data and market messages are under 100 kB."""
    max_event_ahead: Annotated[float, msgspec.Meta(ge=1, le=86400)] = 300.0
    """An event or REST entry stamped later than the exchange clock plus this many seconds is
    dropped as insane (it would otherwise count as "in flight" until that time)."""
    # rate-limit governor (FACTS.md §1.8)
    weight_limit_1m: PositiveInt = 2400
    order_limit_10s: PositiveInt = 300
    order_limit_1m: PositiveInt = 1200
    slow_down_at: Fraction = 0.8
    """Above this share of a limit requests are paced out over the rest of the window."""
    stop_at: Fraction = 0.95
    """Above this share of a limit requests wait for the window to roll over."""
    # exchange rules (docs/connector.md, "Exchange rules")
    rules_refresh_interval: Annotated[float, msgspec.Meta(ge=10, le=DAY)] = 3600.0
    """Seconds between reloads of the symbols' filters (exchangeInfo) and leverage brackets
    (weight 2 a reload); they are also read at start and at once after the exchange refused
    an order for a filter."""
    # keys and ids
    key_type: Literal["hmac", "ed25519"] = "hmac"
    order_id_prefix: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9]{1,6}$")] = "tl"
    # streams
    routed_streams: bool | None = None
    """Use the ``/public`` and ``/private`` routed paths; ``None``: only on the live exchange."""
    max_queue: PositiveInt = 10000


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the connector sends REST requests and opens its sockets."""

    rest_url: str
    stream_url: str
    routed: bool

    def market_url(self, streams: list[str]) -> str:
        """Combined-stream URL for ``streams`` (names like ``btcusdt@bookTicker``)."""
        prefix = "/public" if self.routed else ""
        return f"{self.stream_url}{prefix}/stream?streams={'/'.join(streams)}"

    def user_url(self, listen_key: str) -> str:
        """User-data stream URL for ``listen_key``."""
        if self.routed:
            return f"{self.stream_url}/private/ws?listenKey={listen_key}"
        return f"{self.stream_url}/ws/{listen_key}"


def resolve_endpoints(exchange: ExchangeSettings, config: BinanceConfig) -> Endpoints:
    """URLs for ``binance_futures``: overrides first, then testnet or live defaults."""
    live = not exchange.testnet
    rest = exchange.rest_url or (LIVE_REST_URL if live else TESTNET_REST_URL)
    stream = exchange.stream_url or (LIVE_STREAM_URL if live else TESTNET_STREAM_URL)
    routed = config.routed_streams
    if routed is None:
        routed = live and not exchange.stream_url
    return Endpoints(rest.rstrip("/"), stream.rstrip("/"), routed)
