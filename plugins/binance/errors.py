"""Typed errors carrying Binance's HTTP status, error code and message.

No error ever carries a query string, a signature, the API secret or the full API key: the
request is named by method and path only.
"""

from __future__ import annotations

from framework.errors import ExchangeFilterRejection, TradeloopError

# Error codes the connector acts on (FACTS.md §4).
TOO_MANY_REQUESTS = -1003
UNEXPECTED_RESPONSE = -1006
TIMEOUT = -1007
THROTTLED = -1008
TOO_MANY_ORDERS = -1015
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
INVALID_LISTEN_KEY = -1125
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
DUPLICATE_CLIENT_ORDER_ID = -4116

# An order refused for one of the symbol's filters (F:error-code; FACTS.md §4): the filter.
FILTER_CODES: dict[int, str] = {
    -1111: "PRECISION",  # more decimals than the symbol's price/quantity precision
    -4001: "PRICE_FILTER",  # price less than 0
    -4002: "PRICE_FILTER",  # price greater than max price
    -4013: "PRICE_FILTER",  # price less than min price
    -4014: "PRICE_FILTER",  # price not increased by tick size
    -4003: "LOT_SIZE",  # quantity less than (or equal to) zero
    -4004: "LOT_SIZE",  # quantity less than min quantity
    -4005: "LOT_SIZE",  # quantity greater than max quantity
    -4023: "LOT_SIZE",  # quantity not increased by step size
    -4016: "PERCENT_PRICE",  # price higher than mark price multiplier cap
    -4024: "PERCENT_PRICE",  # price lower than mark price multiplier floor
    -4131: "PERCENT_PRICE",  # market order: counterparty's best price outside the band
    -4164: "MIN_NOTIONAL",
    -2025: "MAX_NUM_ORDERS",  # reach max open order limit
    -2027: "LEVERAGE_BRACKET",  # the position would exceed the maximum at the current leverage
}


class BinanceError(TradeloopError):
    """Base class of every error the connector raises."""


class BinanceAPIError(BinanceError):
    """The exchange answered with an error body ``{"code": .., "msg": ..}``."""

    def __init__(self, status: int, code: int, msg: str, *, request: str = "") -> None:
        self.status = status
        self.code = code
        self.msg = msg
        self.request = request
        where = f" ({request})" if request else ""
        super().__init__(f"HTTP {status} code {code}: {msg}{where}")


class RateLimitedError(BinanceAPIError):
    """HTTP 429: the request was rejected; ``retry_after`` seconds until the next one may go."""

    def __init__(
        self, status: int, code: int, msg: str, *, request: str = "", retry_after: float = 0.0
    ) -> None:
        super().__init__(status, code, msg, request=request)
        self.retry_after = retry_after


class IPBannedError(RateLimitedError):
    """HTTP 418: the IP is banned; nothing is sent until the ban expires."""


class TimestampError(BinanceAPIError):
    """-1021: the request's timestamp fell outside ``recvWindow``."""


class ListenKeyError(BinanceAPIError):
    """-1125: the listenKey does not exist (expired or deleted)."""


class OrderNotFoundError(BinanceAPIError):
    """-2013 (or -2011 "Unknown order"): no order with that id."""


class FilterRejectedError(BinanceAPIError, ExchangeFilterRejection):
    """The exchange refused an order for one of the symbol's filters (``filter`` names it)."""

    def __init__(self, status: int, code: int, msg: str, *, request: str = "") -> None:
        super().__init__(status, code, msg, request=request)
        self.filter = FILTER_CODES.get(code, "")


class ServerError(BinanceAPIError):
    """HTTP 5xx (or -1006/-1007): the outcome of the request is not known."""


class ResponseTooLarge(ServerError):
    """An answer longer than ``plugins.binance.max_body_bytes``: refused while it was read.

    Never retried (the same answer would come again); for a new order, the outcome is unknown
    and resolved by querying, like any other ``ServerError``.
    """

    def __init__(self, status: int, request: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            status,
            0,
            f"answer of {size:,}+ bytes refused: more than plugins.binance.max_body_bytes "
            f"({limit:,})",
            request=request,
        )


class TransportError(BinanceError):
    """The request did not get an answer (connection error or timeout)."""

    def __init__(self, request: str, cause: str) -> None:
        self.request = request
        self.cause = cause
        super().__init__(f"{request}: {cause}")


class UnknownOrderOutcomeError(BinanceError):
    """An order's outcome stayed unknown after every query by its client order id."""

    def __init__(self, symbol: str, client_order_id: str, cause: str) -> None:
        self.symbol = symbol
        self.client_order_id = client_order_id
        self.cause = cause
        super().__init__(
            f"order {client_order_id} on {symbol}: outcome unknown after querying it ({cause})"
        )


class RateLimitWaitTooLong(BinanceError):
    """The governor would have to wait longer than ``max_rate_wait``: fail fast instead."""

    def __init__(self, request: str, wait: float, reason: str) -> None:
        self.request = request
        self.wait = wait
        self.reason = reason
        super().__init__(f"{request}: not sent, {reason} for another {wait:.1f} s")


_BY_CODE: dict[int, type[BinanceAPIError]] = {
    INVALID_TIMESTAMP: TimestampError,
    INVALID_LISTEN_KEY: ListenKeyError,
    NO_SUCH_ORDER: OrderNotFoundError,
    UNEXPECTED_RESPONSE: ServerError,
    TIMEOUT: ServerError,
}


def api_error(
    status: int, code: int, msg: str, *, request: str, retry_after: float = 0.0
) -> BinanceAPIError:
    """The most specific error type for a status and code."""
    if status == 418:
        return IPBannedError(status, code, msg, request=request, retry_after=retry_after)
    if status == 429:
        return RateLimitedError(status, code, msg, request=request, retry_after=retry_after)
    if code == CANCEL_REJECTED and "unknown order" in msg.lower():
        return OrderNotFoundError(status, code, msg, request=request)
    if code in FILTER_CODES and status < 500:
        return FilterRejectedError(status, code, msg, request=request)
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(status, code, msg, request=request)
    if status >= 500:
        return ServerError(status, code, msg, request=request)
    return BinanceAPIError(status, code, msg, request=request)


class UnlistedSymbols(BinanceError):
    """Symbols to trade that ``GET /fapi/v1/exchangeInfo`` does not list as ``TRADING``."""

    def __init__(self, missing: list[str], listed: frozenset[str]) -> None:
        self.missing = missing
        self.listed = listed
        super().__init__(
            f"not listed as TRADING by the exchange: {', '.join(missing)} "
            f"({len(listed)} symbols are)"
        )
