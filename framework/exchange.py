"""What the core and strategies need from an exchange connector."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from framework.types import AccountSnapshot, Candle, Fill, Order, OrderRequest


@dataclass(frozen=True, slots=True)
class ExchangeEndpoint:
    """Where a connector reaches an exchange that another plugin serves (e.g. the simulator).

    A plugin that runs or knows an exchange publishes this with
    ``ctx.publish_exchange_endpoint`` in its ``lifespan`` start (it starts before the connector,
    by ``start_priority``); the connector reads ``ctx.exchange_endpoint`` in its own start.
    ``api_key``/``api_secret`` are credentials that exchange accepts (demo ones for a
    simulator); a key in ``exchange.api_key`` still wins. ``clock`` is the exchange's clock in
    seconds (the bot's clock for an embedded simulator); ``None``: real time.
    """

    rest_url: str
    stream_url: str
    api_key: str = field(default="", repr=False)
    api_secret: str = field(default="", repr=False)
    clock: Callable[[], float] | None = None
    provider: str = ""
    """The plugin that published it (for logs and errors)."""


class FrameTap(Protocol):
    """Receives the raw bytes a connector gets from the exchange, before it decodes them (the
    ``recorder`` plugin writes them to a file; ``tradeloop replay`` follows them).

    A plugin registers one with ``ctx.add_frame_tap`` in its ``lifespan`` start, before the
    connector starts (by ``start_priority``); the connector reads ``ctx.frame_taps`` once, at
    its start. Without a tap the connector's receive path is unchanged: a tap costs nothing
    unless one is registered. Every method is called on the event loop and must return at once
    (buffer, never write a file or wait); an exception from a tap is the connector's to log.
    """

    def stream_frames(self, stream: str) -> Callable[[bytes], None]:
        """The callable the connector hands every WebSocket message of ``stream`` (``market``,
        ``user_data``, ...) to, just before decoding it."""
        ...

    def rest_sent(self) -> float:
        """Called as a REST request leaves; the stamp (the tap's clock) comes back in
        ``rest_answered``."""
        ...

    def rest_answered(
        self,
        stamp: float,
        method: str,
        path: str,
        params: Mapping[str, str],
        status: int,
        body: bytes,
    ) -> None:
        """A REST answer: the request's method, path and parameters (never the signature,
        nor the API key, which travels in a header), the HTTP status (0: no answer, the
        transport failed) and the body as received."""
        ...


@runtime_checkable
class ExchangeConnector(Protocol):
    """An exchange as the core sees it, provided by a plugin through ``provide_exchange``.

    The connector owns its sockets (it starts them in its plugin's ``lifespan``), feeds the
    account cache from the user-data stream and emits ``on_tick`` and ``on_stream_state``.
    """

    name: str

    async def place_order(self, request: OrderRequest, *, owner: str = "bot") -> Order:
        """Send an order; an unknown outcome is resolved before this returns or raises.

        ``owner`` (a strategy instance id) goes into the client order id the connector makes
        when ``request.client_order_id`` is empty, so ``owner_of`` finds it again.
        """
        ...

    def owner_of(self, client_order_id: str) -> str | None:
        """The owner a client order id was made for, or ``None`` if not one of ours."""
        ...

    def new_client_order_id(self, owner: str) -> str:
        """A client order id for ``owner`` never used before (the core records it with the
        order's intent before sending; ``owner_of`` finds ``owner`` again)."""
        ...

    async def cancel_order(self, symbol: str, client_order_id: str) -> Order:
        """Cancel an open order by its client order id."""
        ...

    async def query_order(self, symbol: str, client_order_id: str) -> Order | None:
        """The order as the exchange knows it, or ``None`` if it does not exist."""
        ...

    async def fetch_account_snapshot(self) -> AccountSnapshot:
        """Balances, positions and open orders from REST, with the snapshot time."""
        ...

    async def fetch_candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        """The ``limit`` most recent candles of ``symbol`` (oldest first), each interval of
        ``framework.types.CANDLE_INTERVALS``; the last one may still be forming (``closed``
        false). Fewer when the exchange has less history. The connector pages the requests
        within its rate-limit budget and checks every value before it is returned.
        """
        ...

    def stats(self) -> Mapping[str, Any]:
        """Counters for the run summary (connects, reconnects, events, ...)."""
        ...


@runtime_checkable
class FillHistory(Protocol):
    """A connector that can list an order's trades (optional: reconciliation uses it to
    recover fills whose events were lost; without it, fills are not reconciled)."""

    async def fetch_fills(self, symbol: str, order_id: int) -> list[Fill]:
        """Every trade of one order, oldest first, as the exchange lists them.

        ``client_order_id`` may be empty when the exchange's trade list does not carry it.
        """
        ...


@runtime_checkable
class TradeHistory(Protocol):
    """A connector that can list the account's trades of one symbol by trade id (optional:
    reconciliation sweeps it so every trade reaches the cache, also trades of orders the cache
    never heard of and trades made while the bot was down)."""

    trades_page: int
    """The most trades one ``fetch_trades`` call returns."""

    async def fetch_trades(self, symbol: str, from_id: int | None) -> list[Fill]:
        """The account's trades of ``symbol`` with a trade id ``>= from_id``, oldest first, at
        most ``trades_page`` of them; without ``from_id``, the most recent ones.

        Trade ids grow with time within a symbol. ``client_order_id`` may be empty when the
        exchange's trade list does not carry it.
        """
        ...


@runtime_checkable
class StreamHealth(Protocol):
    """A connector that tells how its user-data stream is doing (optional: reconciliation uses
    it to find a stream that is connected but silent, and to keep degraded polling inside the
    REST budget; without it, silent streams are found only by the connector's own watchdog)."""

    def user_messages(self) -> int:
        """Messages of any kind received on the user-data stream so far (only grows)."""
        ...

    def order_actions(self) -> int:
        """Order requests (placed, canceled) the exchange acknowledged so far (only grows):
        each one should bring a user-data event."""
        ...

    def restart_user_stream(self, reason: str) -> None:
        """Replace the user-data connection (new socket first); its ``on_stream_state``
        ``connected`` carries ``needs_resync``."""
        ...

    def rest_busy(self) -> bool:
        """True while the REST budget is tight (the rate governor paces or blocks requests):
        optional REST reads (degraded polls, probes) wait for the next turn."""
        ...
