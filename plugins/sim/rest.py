"""The REST API: routing, weights, faults, authentication and the ``/fapi`` handlers."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from aiohttp import web

from . import wire
from .auth import check_api_key, check_signed, merge_params
from .engine import Order, OrderType, Side, TimeInForce
from .errors import (
    INT_PATTERN,
    NUMBER_PATTERN,
    BinanceError,
    bad_combination,
    illegal_chars,
    invalid_param,
    invalid_symbol,
    mandatory,
    not_required,
)

if TYPE_CHECKING:
    from .exchange import SimExchange

log = logging.getLogger(__name__)

_NUMBER_RE = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
_INT_RE = re.compile(r"^[0-9]{1,20}$")
_CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
CONDITIONAL_TYPES = frozenset(
    {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
)
E = TypeVar("E", bound=Enum)


class Security(Enum):
    """Endpoint security type."""

    NONE = "NONE"
    USER_STREAM = "USER_STREAM"
    SIGNED = "SIGNED"


@dataclass(slots=True)
class Call:
    """One parsed REST request."""

    params: dict[str, str]
    now: int


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A route: its handler, security type and request weight."""

    handler: Handler
    security: Security
    weight: Callable[[dict[str, str]], int]
    counts_order: bool = False


def _w(n: int) -> Callable[[dict[str, str]], int]:
    return lambda _params: n


# ----------------------------------------------------------------------------- parameters


def p_str(params: dict[str, str], name: str) -> str | None:
    """A parameter's value, None when absent or empty."""
    value = params.get(name)
    return value if value else None


def p_required(params: dict[str, str], name: str) -> str:
    """A mandatory parameter (-1102 when missing)."""
    value = params.get(name)
    if not value:
        raise mandatory(name)
    return value


def p_decimal(params: dict[str, str], name: str) -> Decimal | None:
    """A non-negative decimal parameter (-1100 when malformed)."""
    value = p_str(params, name)
    if value is None:
        return None
    if not _NUMBER_RE.match(value):
        raise illegal_chars(name, NUMBER_PATTERN)
    return Decimal(value)


def p_int(params: dict[str, str], name: str) -> int | None:
    """A non-negative integer parameter (-1100 when malformed)."""
    value = p_str(params, name)
    if value is None:
        return None
    if not _INT_RE.match(value):
        raise illegal_chars(name, INT_PATTERN)
    return int(value)


def p_bool(params: dict[str, str], name: str) -> bool:
    """``true``/``false`` (any case); absent is false."""
    value = p_str(params, name)
    if value is None:
        return False
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise illegal_chars(name, "^(true|false)$")
    return lowered == "true"


def p_enum(params: dict[str, str], name: str, enum: type[E], code: int, msg: str) -> E | None:
    """An enum parameter; ``code``/``msg`` when the value is not a member."""
    value = p_str(params, name)
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        raise BinanceError(400, code, msg) from None


def p_limit(params: dict[str, str], default: int, maximum: int) -> int:
    """The ``limit`` parameter, 1..maximum."""
    limit = p_int(params, "limit")
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise invalid_param("limit")
    return limit


# ----------------------------------------------------------------------------- the API


class RestApi:
    """Every ``/fapi`` route, served by one aiohttp handler that never raises."""

    def __init__(self, exchange: SimExchange) -> None:
        self.ex = exchange
        signed, stream, none = Security.SIGNED, Security.USER_STREAM, Security.NONE
        self.routes: dict[str, dict[str, Endpoint]] = {
            "/fapi/v1/ping": {"GET": Endpoint(self.ping, none, _w(1))},
            "/fapi/v1/time": {"GET": Endpoint(self.time, none, _w(1))},
            "/fapi/v1/exchangeInfo": {"GET": Endpoint(self.exchange_info, none, _w(1))},
            "/fapi/v3/account": {"GET": Endpoint(self.account_v3, signed, _w(5))},
            "/fapi/v2/account": {"GET": Endpoint(self.account_v2, signed, _w(5))},
            "/fapi/v3/balance": {"GET": Endpoint(self.balance, signed, _w(5))},
            "/fapi/v2/balance": {"GET": Endpoint(self.balance, signed, _w(5))},
            "/fapi/v3/positionRisk": {"GET": Endpoint(self.position_risk_v3, signed, _w(5))},
            "/fapi/v2/positionRisk": {"GET": Endpoint(self.position_risk_v2, signed, _w(5))},
            "/fapi/v1/positionSide/dual": {"GET": Endpoint(self.dual, signed, _w(30))},
            "/fapi/v1/openOrders": {
                "GET": Endpoint(self.open_orders, signed, lambda p: 1 if p.get("symbol") else 40)
            },
            "/fapi/v1/openOrder": {"GET": Endpoint(self.open_order, signed, _w(1))},
            "/fapi/v1/order": {
                "POST": Endpoint(self.new_order, signed, _w(0), counts_order=True),
                "DELETE": Endpoint(self.cancel_order, signed, _w(1)),
                "GET": Endpoint(self.query_order, signed, _w(1)),
            },
            "/fapi/v1/allOpenOrders": {"DELETE": Endpoint(self.cancel_all, signed, _w(1))},
            "/fapi/v1/listenKey": {
                "POST": Endpoint(self.listen_key_post, stream, _w(1)),
                "PUT": Endpoint(self.listen_key_put, stream, _w(1)),
                "DELETE": Endpoint(self.listen_key_delete, stream, _w(1)),
            },
            "/fapi/v1/userTrades": {"GET": Endpoint(self.user_trades, signed, _w(5))},
            "/fapi/v1/income": {"GET": Endpoint(self.income, signed, _w(30))},
            "/fapi/v1/leverage": {"POST": Endpoint(self.leverage, signed, _w(1))},
            "/fapi/v1/symbolConfig": {"GET": Endpoint(self.symbol_config, signed, _w(5))},
        }

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """Answer one request: a result, or a Binance ``{code, msg}`` body; never an exception."""
        ex = self.ex
        ip = request.remote or "unknown"
        now_s = ex.clock()
        headers: dict[str, str] = {}
        status = 200
        result: Any
        try:
            result = await self._serve(request, ip, now_s, headers)
        except BinanceError as err:
            status, result = err.status, err.body()
            if err.retry_after is not None:
                headers["Retry-After"] = str(err.retry_after)
        except web.HTTPException as exc:
            status, result = exc.status, {"code": -1000, "msg": exc.reason}
        except Exception:
            log.exception("sim: unexpected error serving %s %s", request.method, request.path)
            status = 500
            result = {
                "code": -1000,
                "msg": "An unknown error occurred while processing the request.",
            }
        if status == 200 and ex.tamper_rest is not None:
            result = ex.tamper_rest(request.method, request.path, result)
        used = ex.limiter.used_weight(ip, now_s)
        headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        headers["X-MBX-USED-WEIGHT"] = str(used)
        return web.Response(
            status=status,
            body=result if isinstance(result, bytes) else orjson.dumps(result),
            content_type="application/json",
            headers=headers,
        )

    async def _serve(
        self, request: web.Request, ip: str, now_s: float, headers: dict[str, str]
    ) -> Any:
        ex = self.ex
        methods = self.routes.get(request.path)
        endpoint = methods.get(request.method) if methods is not None else None
        if endpoint is None:
            status = 404 if methods is None else 405
            raise BinanceError(
                status, -5000, f"Path {request.path}, Method {request.method} is invalid"
            )
        # The request target exactly as sent: yarl would normalise percent-escapes and break
        # the signature of clients that encode more characters than needed.
        query = request.raw_path.partition("?")[2]
        body = ""
        if request.can_read_body:
            body = (await request.read()).decode("utf-8", "replace")
        params = merge_params(query, body)

        injector = ex.injector
        limiter = ex.limiter
        if limiter.used_weight(ip, now_s) < limiter.weight_limit and injector.roll(
            "rate_limit_burst"
        ):
            limiter.burst(ip, now_s)
        ex.limiter.charge(ip, endpoint.weight(params), now_s)
        if injector.roll("rest_error_rate"):
            code = injector.choice("rest_error_status", (500, 502, 503))
            raise BinanceError(
                code, -1001, "Internal error; unable to process your request. Please try again."
            )
        if ex.faults.clock_skew_ms:
            injector.count("clock_skew_ms")
        now = ex.server_ms()
        if endpoint.security is not Security.NONE:
            check_api_key(request.headers.get("X-MBX-APIKEY"), ex.settings.api_key)
        if endpoint.security is Security.SIGNED:
            check_signed(
                query,
                body,
                params,
                secret=ex.settings.api_secret,
                server_time=now,
                max_recv_window=ex.settings.max_recv_window_ms,
            )
        if endpoint.counts_order:
            count_10s, count_1m = ex.limiter.count_order(now_s)
            headers["X-MBX-ORDER-COUNT-10S"] = str(count_10s)
            headers["X-MBX-ORDER-COUNT-1M"] = str(count_1m)
        return await endpoint.handler(Call(params, now))

    # ------------------------------------------------------------------ helpers

    def _symbol(self, params: dict[str, str]) -> str:
        symbol = p_required(params, "symbol")
        if symbol not in self.ex.engine.specs:
            raise invalid_symbol()
        return symbol

    def _optional_symbol(self, params: dict[str, str]) -> str | None:
        return self._symbol(params) if p_str(params, "symbol") else None

    def _find(self, params: dict[str, str]) -> Order:
        symbol = self._symbol(params)
        order_id = p_int(params, "orderId")
        client_id = p_str(params, "origClientOrderId")
        if order_id is None and client_id is None:
            raise BinanceError(
                400,
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        order = self.ex.engine.find_order(symbol, order_id, client_id)
        if order is None:
            raise BinanceError(400, -2013, "Order does not exist.")
        return order

    # ------------------------------------------------------------------ market data

    async def ping(self, call: Call) -> Any:
        """``GET /fapi/v1/ping``."""
        return {}

    async def time(self, call: Call) -> Any:
        """``GET /fapi/v1/time``."""
        return {"serverTime": call.now}

    async def exchange_info(self, call: Call) -> Any:
        """``GET /fapi/v1/exchangeInfo``."""
        s = self.ex.settings
        return wire.exchange_info(
            list(self.ex.engine.specs.values()),
            call.now,
            s.weight_limit_1m,
            s.order_limit_10s,
            s.order_limit_1m,
        )

    # ------------------------------------------------------------------ account

    async def account_v3(self, call: Call) -> Any:
        """``GET /fapi/v3/account``."""
        return wire.account_v3(self.ex.engine)

    async def account_v2(self, call: Call) -> Any:
        """``GET /fapi/v2/account``."""
        return wire.account_v2(self.ex.engine)

    async def balance(self, call: Call) -> Any:
        """``GET /fapi/v3/balance`` and ``/fapi/v2/balance``."""
        return wire.balance_v3(self.ex.engine, self.ex.account_alias)

    async def position_risk_v3(self, call: Call) -> Any:
        """``GET /fapi/v3/positionRisk``."""
        symbol = self._optional_symbol(call.params)
        symbols = [symbol] if symbol else list(self.ex.engine.specs)
        return wire.position_risk(self.ex.engine, symbols, v2=False)

    async def position_risk_v2(self, call: Call) -> Any:
        """``GET /fapi/v2/positionRisk``."""
        symbol = self._optional_symbol(call.params)
        symbols = [symbol] if symbol else list(self.ex.engine.specs)
        return wire.position_risk(self.ex.engine, symbols, v2=True)

    async def dual(self, call: Call) -> Any:
        """``GET /fapi/v1/positionSide/dual``: hedge mode (``plugins.sim.dual_side_position``)
        or one-way."""
        return {"dualSidePosition": self.ex.engine.dual}

    async def leverage(self, call: Call) -> Any:
        """``POST /fapi/v1/leverage``."""
        symbol = self._symbol(call.params)
        raw = p_required(call.params, "leverage")
        if not _INT_RE.match(raw) or not 1 <= int(raw) <= 125:
            raise BinanceError(400, -4028, f"Leverage {raw} is not valid")
        leverage = int(raw)
        self.ex.set_leverage(symbol, leverage)
        return {
            "leverage": leverage,
            "maxNotionalValue": wire.max_notional(leverage),
            "symbol": symbol,
        }

    async def symbol_config(self, call: Call) -> Any:
        """``GET /fapi/v1/symbolConfig``: each symbol's margin type, leverage and the position
        notional that leverage allows (one symbol with ``symbol``)."""
        only = self._optional_symbol(call.params)
        engine = self.ex.engine
        return [
            {
                "symbol": s,
                "marginType": "CROSSED",
                "isAutoAddMargin": "false",
                "leverage": engine.positions[s].leverage,
                "maxNotionalValue": wire.max_notional(engine.positions[s].leverage),
            }
            for s in engine.specs
            if only is None or s == only
        ]

    async def user_trades(self, call: Call) -> Any:
        """``GET /fapi/v1/userTrades``: the account's trades of one symbol, oldest first; with
        ``fromId`` the first ``limit`` with an id at or above it, else the most recent ones
        (``fromId`` cannot be sent with ``startTime``/``endTime``: -1128)."""
        params = call.params
        symbol = self._symbol(params)
        order_id = p_int(params, "orderId")
        start = p_int(params, "startTime")
        end = p_int(params, "endTime")
        from_id = p_int(params, "fromId")
        limit = p_limit(params, 500, 1000)
        if from_id is not None and (start is not None or end is not None):
            raise bad_combination()
        spec = self.ex.engine.specs[symbol]
        rows = [
            t
            for t in self.ex.engine.trades
            if t.symbol == symbol
            and (order_id is None or t.order_id == order_id)
            and (start is None or t.time >= start)
            and (end is None or t.time <= end)
            and (from_id is None or t.trade_id >= from_id)
        ]
        rows = rows[:limit] if from_id is not None else rows[-limit:]
        return [wire.user_trade_json(t, spec) for t in rows]

    async def income(self, call: Call) -> Any:
        """``GET /fapi/v1/income``."""
        params = call.params
        symbol = self._optional_symbol(params)
        kind = p_str(params, "incomeType")
        start = p_int(params, "startTime")
        end = p_int(params, "endTime")
        limit = p_limit(params, 100, 1000)
        rows = [
            i
            for i in self.ex.engine.incomes
            if (symbol is None or i.symbol == symbol)
            and (kind is None or i.income_type == kind)
            and (start is None or i.time >= start)
            and (end is None or i.time <= end)
        ]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return [wire.income_json(i) for i in rows]

    # ------------------------------------------------------------------ orders

    async def open_orders(self, call: Call) -> Any:
        """``GET /fapi/v1/openOrders``."""
        symbol = self._optional_symbol(call.params)
        engine = self.ex.engine
        symbols = [symbol] if symbol else list(engine.specs)
        late = self.ex.late_orders
        return [
            wire.order_json(order, engine.specs[s], query=True)
            for s in symbols
            for order in sorted(engine.open_orders[s].values(), key=lambda o: o.order_id)
            if not late.hides(s, order.order_id, call.now, lookup=False)
        ]

    async def open_order(self, call: Call) -> Any:
        """``GET /fapi/v1/openOrder``."""
        order = self._find_shown(call)
        if not order.is_open:
            raise BinanceError(400, -2013, "Order does not exist.")
        return wire.order_json(order, self.ex.engine.specs[order.symbol], query=True)

    async def query_order(self, call: Call) -> Any:
        """``GET /fapi/v1/order``."""
        order = self._find_shown(call)
        return wire.order_json(order, self.ex.engine.specs[order.symbol], query=True)

    def _find_shown(self, call: Call) -> Order:
        """``_find`` for the order queries: an order the ``late_order_rate`` fault still hides
        does not exist yet."""
        order = self._find(call.params)
        if self.ex.late_orders.hides(order.symbol, order.order_id, call.now, lookup=True):
            raise BinanceError(400, -2013, "Order does not exist.")
        return order

    async def new_order(self, call: Call) -> Any:
        """``POST /fapi/v1/order``."""
        params = call.params
        symbol = self._symbol(params)
        side = p_enum(params, "side", Side, -1117, "Invalid side.")
        if side is None:
            raise mandatory("side")
        raw_type = p_required(params, "type")
        if raw_type in CONDITIONAL_TYPES:
            raise BinanceError(
                400,
                -4120,
                "Order type not supported for this endpoint. Please use the Algo Order API "
                "endpoints instead.",
            )
        order_type = p_enum(params, "type", OrderType, -1116, "Invalid orderType.")
        assert order_type is not None
        position_side = p_str(params, "positionSide") or "BOTH"
        if position_side not in ("BOTH", "LONG", "SHORT"):
            raise invalid_param("positionSide")
        quantity = p_decimal(params, "quantity")
        if quantity is None:
            raise mandatory("quantity")
        price = p_decimal(params, "price")
        tif = p_enum(params, "timeInForce", TimeInForce, -1115, "Invalid timeInForce.")
        if order_type is OrderType.LIMIT:
            if price is None:
                raise mandatory("price")
            if tif is None:
                raise mandatory("timeInForce")
        elif price is not None:
            raise not_required("price")
        if self.ex.engine.dual and "reduceOnly" in params:  # not even "false" in hedge mode
            raise not_required("reduceOnly")
        reduce_only = p_bool(params, "reduceOnly")
        client_id = p_str(params, "newClientOrderId")
        if client_id is not None and not _CLIENT_ID_RE.match(client_id):
            raise illegal_chars("newClientOrderId", _CLIENT_ID_RE.pattern)
        resp_type = p_str(params, "newOrderRespType") or "ACK"
        if resp_type not in ("ACK", "RESULT"):
            raise BinanceError(400, -1116, "Invalid newOrderRespType.")

        injector = self.ex.injector
        unknown = injector.roll("unknown_order_outcome_rate")
        if unknown and not injector.coin("unknown_order_outcome_executed"):
            raise _unknown_outcome()
        result = self.ex.submit_order(
            symbol=symbol,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            time_in_force=tif or TimeInForce.GTC,
            reduce_only=reduce_only,
            client_order_id=client_id,
            position_side=position_side,
        )
        settings = self.ex.settings
        self.ex.late_orders.accepted(
            symbol,
            result.accepted.order_id,
            call.now,
            settings.late_order_seconds,
            settings.late_order_queries,
        )
        if unknown:
            injector.count("unknown_order_outcome_executed")
            raise _unknown_outcome()
        shown = result.accepted if resp_type == "ACK" else result.final
        return wire.order_json(shown, self.ex.engine.specs[symbol])

    async def cancel_order(self, call: Call) -> Any:
        """``DELETE /fapi/v1/order``."""
        order = self._find(call.params)
        injector = self.ex.injector
        unknown = injector.roll("unknown_order_outcome_rate")
        if unknown and not injector.coin("unknown_order_outcome_executed"):
            raise _unknown_outcome()
        final = self.ex.cancel(order)
        if unknown:
            injector.count("unknown_order_outcome_executed")
            raise _unknown_outcome()
        return wire.order_json(final, self.ex.engine.specs[order.symbol])

    async def cancel_all(self, call: Call) -> Any:
        """``DELETE /fapi/v1/allOpenOrders``."""
        symbol = self._symbol(call.params)
        self.ex.cancel_all(symbol)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    # ------------------------------------------------------------------ listenKey

    async def listen_key_post(self, call: Call) -> Any:
        """``POST /fapi/v1/listenKey``."""
        return {"listenKey": self.ex.create_listen_key()}

    async def listen_key_put(self, call: Call) -> Any:
        """``PUT /fapi/v1/listenKey``."""
        return {"listenKey": self.ex.keepalive_listen_key(p_str(call.params, "listenKey"))}

    async def listen_key_delete(self, call: Call) -> Any:
        """``DELETE /fapi/v1/listenKey``."""
        self.ex.delete_listen_key(p_str(call.params, "listenKey"))
        return {}


def _unknown_outcome() -> BinanceError:
    return BinanceError(503, -1000, "Unknown error, please check your request or try again later.")
