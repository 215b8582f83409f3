"""``tradeloop check --exchange``: signed read-only calls, a report, no order.

Reads the server time (and the local clock's skew against it), the account (``GET
/fapi/v2/account``: trading allowed, balances, positions), ``exchangeInfo`` (is every symbol
the settings trade listed as TRADING) and each symbol's open orders. Nothing is written on
the exchange: no order, no listenKey.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal

import msgspec

from framework.types import ExchangeCheck

from .config import BinanceConfig, Endpoints
from .ids import ClientOrderIds
from .orders import OrderService
from .rest import RestClient
from .rules import RulesService
from .signing import make_signer, mask_key

SKEW_WARNING_MS = 1000.0
"""A local clock this far from the exchange's fails signed requests without the offset."""


class _Asset(msgspec.Struct, frozen=True):
    asset: str
    walletBalance: Decimal = Decimal(0)
    availableBalance: Decimal = Decimal(0)


class _Position(msgspec.Struct, frozen=True):
    symbol: str
    positionAmt: Decimal = Decimal(0)
    positionSide: str = "BOTH"


class _Account(msgspec.Struct, frozen=True):
    canTrade: bool = False
    assets: list[_Asset] = msgspec.field(default_factory=list)
    positions: list[_Position] = msgspec.field(default_factory=list)


async def check_exchange(
    *,
    endpoints: Endpoints,
    api_key: str,
    api_secret: str,
    config: BinanceConfig,
    symbols: Sequence[str],
    recv_window_ms: int,
) -> ExchangeCheck:
    """Ask the exchange what the bot would rely on; every answer one line of the report."""
    rest = RestClient(
        base_url=endpoints.rest_url,
        api_key=api_key,
        signer=make_signer(config.key_type, api_secret),
        config=config,
        recv_window_ms=recv_window_ms,
        rng=random.Random(),
    )
    lines = [f"exchange: {endpoints.rest_url} (api key {mask_key(api_key)})"]
    ok = True
    try:
        try:
            await rest.start()  # GET /fapi/v1/time, three samples
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return ExchangeCheck(ok=False, lines=(*lines, f"server time: FAILED: {exc}"))
        skew = rest.time.offset_ms
        flag = "" if abs(skew) < SKEW_WARNING_MS else " (WARNING: synchronise this host's clock)"
        lines.append(f"server time: ok, local clock skew {skew:+.0f} ms{flag}")
        try:
            account = await rest.request(
                "GET", "/fapi/v2/account", type=_Account, signed=True, weight=5
            )
        except Exception as exc:  # noqa: BLE001 - a bad key, a missing permission: reported
            lines.append(f"account: FAILED: {exc}")
            return ExchangeCheck(ok=False, lines=tuple(lines))
        ok = ok and account.canTrade
        lines.append(f"account: ok, trading {'allowed' if account.canTrade else 'NOT ALLOWED'}")
        held = [a for a in account.assets if a.walletBalance]
        lines.append(
            "balances: "
            + (
                ", ".join(
                    f"{a.asset} {_plain(a.walletBalance)} (available {_plain(a.availableBalance)})"
                    for a in held
                )
                or "none"
            )
        )
        rules = RulesService(rest)  # the connector's own read of exchangeInfo
        await rules.load(brackets=False)
        listed = rules.listed
        ids = ClientOrderIds(config.order_id_prefix)
        orders = OrderService(rest, ids, resolve_attempts=1, not_found_spacing=1.0)
        for symbol in symbols:
            if symbol not in listed:
                ok = False
                lines.append(f"{symbol}: NOT LISTED as TRADING on this exchange")
                continue
            amount = sum(
                (p.positionAmt for p in account.positions if p.symbol == symbol), Decimal(0)
            )
            opened = await orders.open_orders(symbol)
            lines.append(f"{symbol}: listed, position {_plain(amount)}, open orders {len(opened)}")
    finally:
        await rest.close()
    lines.append("no order was placed" + ("" if ok else "; FAILED: see above"))
    return ExchangeCheck(ok=ok, lines=tuple(lines))


def _plain(value: Decimal) -> str:
    """``10000.00000000`` as ``10000``."""
    return format(value.normalize(), "f") if value else "0"
