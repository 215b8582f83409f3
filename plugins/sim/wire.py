"""Binance wire shapes: engine state and events rendered as the JSON objects Binance sends."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import brackets
from .engine import (
    MARGIN_ASSET,
    ZERO,
    AccountEvent,
    Engine,
    Income,
    LeverageEvent,
    Order,
    OrderEvent,
    Position,
    Side,
    Trade,
    TradeEvent,
)
from .prices import PricePath, Tick, units_to_str
from .symbols import SymbolSpec

JSON = dict[str, Any]


def f8(value: Decimal) -> str:
    """Money with 8 decimals (``"23.72469206"``)."""
    return f"{value + 0:.8f}" if value else "0.00000000"


def plain(value: Decimal) -> str:
    """A price without trailing zeros (``"0.385"``); zero renders as ``"0.0"``."""
    if not value:
        return "0.0"
    return format(value.normalize(), "f")


def max_notional(leverage: int) -> str:
    """Position notional allowed at a leverage (the bracket table, ``brackets.max_notional``)."""
    return str(brackets.max_notional(leverage))


# ----------------------------------------------------------------------------- orders


def order_json(order: Order, spec: SymbolSpec, *, query: bool = False) -> JSON:
    """An order as returned by ``POST``/``DELETE /fapi/v1/order`` or, with ``query``, ``GET``."""
    out: JSON = {
        "orderId": order.order_id,
        "symbol": order.symbol,
        "status": order.status.value,
        "clientOrderId": order.client_order_id,
        "price": spec.fmt_price(order.price) if order.price else "0",
        "avgPrice": f"{order.avg_price:.{max(5, spec.price_precision + 3)}f}",
        "origQty": spec.fmt_qty(order.orig_qty),
        "executedQty": spec.fmt_qty(order.executed_qty),
    }
    if not query:
        out["cumQty"] = spec.fmt_qty(order.executed_qty)
    out.update(
        {
            "cumQuote": f8(order.cum_quote),
            "timeInForce": order.time_in_force.value,
            "type": order.type.value,
            "reduceOnly": order.reduce_only,
            "closePosition": False,
            "side": order.side.value,
            "positionSide": order.position_side,
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": order.type.value,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0,
            "updateTime": order.update_time,
        }
    )
    if query:
        out["time"] = order.time
    return out


def user_trade_json(trade: Trade, spec: SymbolSpec) -> JSON:
    """A row of ``GET /fapi/v1/userTrades``."""
    return {
        "buyer": trade.side is Side.BUY,
        "commission": f8(trade.commission),
        "commissionAsset": MARGIN_ASSET,
        "id": trade.trade_id,
        "maker": trade.maker,
        "orderId": trade.order_id,
        "price": spec.fmt_price(trade.price),
        "qty": spec.fmt_qty(trade.qty),
        "quoteQty": f8(trade.price * trade.qty),
        "realizedPnl": f8(trade.realized_pnl),
        "side": trade.side.value,
        "positionSide": trade.position_side,
        "symbol": trade.symbol,
        "time": trade.time,
    }


def income_json(income: Income) -> JSON:
    """A row of ``GET /fapi/v1/income``."""
    return {
        "symbol": income.symbol,
        "incomeType": income.income_type,
        "income": f8(income.income),
        "asset": income.asset,
        "info": income.info,
        "time": income.time,
        "tranId": income.tran_id,
        "tradeId": income.trade_id,
    }


# ----------------------------------------------------------------------------- account


def _has_exposure(engine: Engine, symbol: str) -> bool:
    return bool(any(p.amount for p in engine.legs(symbol)) or engine.open_orders[symbol])


def _leg_shown(engine: Engine, pos: Position) -> bool:
    """A position row ``v3`` shows: one with an amount or open orders of its side."""
    if pos.amount:
        return True
    return any(o.position_side == pos.side for o in engine.open_orders[pos.symbol].values())


def _order_margin(engine: Engine, pos: Position) -> Decimal:
    """Open-order initial margin of the orders of one position side."""
    if pos.side == "BOTH":
        return engine.open_order_initial_margin(pos.symbol)
    return engine.open_order_initial_margin(pos.symbol, pos.side)


def _totals(engine: Engine) -> JSON:
    wallet = engine.wallet[MARGIN_ASSET]
    unrealized = engine.total_unrealized()
    position_im = sum((engine.position_initial_margin(s) for s in engine.specs), ZERO)
    order_im = sum((engine.open_order_initial_margin(s) for s in engine.specs), ZERO)
    maint = sum((engine.maint_margin(s) for s in engine.specs), ZERO)
    return {
        "totalInitialMargin": f8(position_im + order_im),
        "totalMaintMargin": f8(maint),
        "totalWalletBalance": f8(wallet),
        "totalUnrealizedProfit": f8(unrealized),
        "totalMarginBalance": f8(wallet + unrealized),
        "totalPositionInitialMargin": f8(position_im),
        "totalOpenOrderInitialMargin": f8(order_im),
        "totalCrossWalletBalance": f8(wallet),
        "totalCrossUnPnl": f8(unrealized),
        "availableBalance": f8(engine.available_balance()),
        "maxWithdrawAmount": f8(engine.max_withdraw()),
    }


def _asset_json(engine: Engine, asset: str, *, v2: bool) -> JSON:
    wallet = engine.wallet[asset]
    margin = asset == MARGIN_ASSET
    unrealized = engine.total_unrealized() if margin else ZERO
    position_im = (
        sum((engine.position_initial_margin(s) for s in engine.specs), ZERO) if margin else ZERO
    )
    order_im = (
        sum((engine.open_order_initial_margin(s) for s in engine.specs), ZERO) if margin else ZERO
    )
    maint = sum((engine.maint_margin(s) for s in engine.specs), ZERO) if margin else ZERO
    available = engine.available_balance() if margin else wallet
    out: JSON = {
        "asset": asset,
        "walletBalance": f8(wallet),
        "unrealizedProfit": f8(unrealized),
        "marginBalance": f8(wallet + unrealized),
        "maintMargin": f8(maint),
        "initialMargin": f8(position_im + order_im),
        "positionInitialMargin": f8(position_im),
        "openOrderInitialMargin": f8(order_im),
        "crossWalletBalance": f8(wallet),
        "crossUnPnl": f8(unrealized),
        "availableBalance": f8(available),
        "maxWithdrawAmount": f8(engine.max_withdraw() if margin else wallet),
    }
    if v2:
        out["marginAvailable"] = margin
    out["updateTime"] = engine.balance_update_time[asset]
    return out


def account_v3(engine: Engine) -> JSON:
    """``GET /fapi/v3/account``: only symbols with a position or open orders."""
    out = _totals(engine)
    out["assets"] = [_asset_json(engine, a, v2=False) for a in engine.wallet]
    out["positions"] = [
        {
            "symbol": s,
            "positionSide": pos.side,
            "positionAmt": spec.fmt_qty(pos.amount),
            "unrealizedProfit": f8(engine.leg_unrealized(pos)),
            "isolatedMargin": "0.00000000",
            "notional": f8(engine.leg_notional(pos)),
            "isolatedWallet": "0",
            "initialMargin": f8(engine.leg_initial_margin(pos) + _order_margin(engine, pos)),
            "maintMargin": f8(engine.leg_maint_margin(pos)),
            "updateTime": pos.update_time,
        }
        for s, spec in engine.specs.items()
        if _has_exposure(engine, s)
        for pos in engine.legs(s)
        if not engine.dual or _leg_shown(engine, pos)
    ]
    return out


def account_v2(engine: Engine) -> JSON:
    """``GET /fapi/v2/account``: every listed symbol, with config fields."""
    out: JSON = {
        "feeTier": 0,
        "feeBurn": False,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
    }
    out.update(_totals(engine))
    out["assets"] = [_asset_json(engine, a, v2=True) for a in engine.wallet]
    positions = []
    for s, spec in engine.specs.items():
        for pos in engine.legs(s):
            position_im = engine.leg_initial_margin(pos)
            order_im = _order_margin(engine, pos)
            positions.append(
                {
                    "symbol": s,
                    "initialMargin": f8(position_im + order_im),
                    "maintMargin": f8(engine.leg_maint_margin(pos)),
                    "unrealizedProfit": f8(engine.leg_unrealized(pos)),
                    "positionInitialMargin": f8(position_im),
                    "openOrderInitialMargin": f8(order_im),
                    "leverage": str(pos.leverage),
                    "isolated": False,
                    "entryPrice": plain(pos.entry_price),
                    "breakEvenPrice": plain(engine.leg_break_even(pos)),
                    "maxNotional": max_notional(pos.leverage),
                    "bidNotional": f8(engine.side_notional(s, Side.BUY)),
                    "askNotional": f8(engine.side_notional(s, Side.SELL)),
                    "positionSide": pos.side,
                    "positionAmt": spec.fmt_qty(pos.amount),
                    "updateTime": pos.update_time,
                }
            )
    out["positions"] = positions
    return out


def balance_v3(engine: Engine, alias: str) -> list[JSON]:
    """``GET /fapi/v3/balance`` (and v2)."""
    rows = []
    for asset, wallet in engine.wallet.items():
        margin = asset == MARGIN_ASSET
        unrealized = engine.total_unrealized() if margin else ZERO
        rows.append(
            {
                "accountAlias": alias,
                "asset": asset,
                "balance": f8(wallet),
                "crossWalletBalance": f8(wallet),
                "crossUnPnl": f8(unrealized),
                "availableBalance": f8(engine.available_balance() if margin else wallet),
                "maxWithdrawAmount": f8(engine.max_withdraw() if margin else wallet),
                "marginAvailable": margin,
                "updateTime": engine.balance_update_time[asset],
            }
        )
    return rows


def position_risk(engine: Engine, symbols: list[str], *, v2: bool) -> list[JSON]:
    """``GET /fapi/v3/positionRisk`` (only symbols with exposure) or ``v2`` (every symbol)."""
    rows = []
    for s in symbols:
        if not v2 and not _has_exposure(engine, s):
            continue
        for pos in engine.legs(s):
            if not v2 and engine.dual and not _leg_shown(engine, pos):
                continue
            rows.append(_position_row(engine, pos, v2=v2))
    return rows


def _position_row(engine: Engine, pos: Position, *, v2: bool) -> JSON:
    """One row of ``positionRisk``."""
    s = pos.symbol
    spec = engine.specs[s]
    common = {
        "symbol": s,
        "positionSide": pos.side,
        "positionAmt": spec.fmt_qty(pos.amount),
        "entryPrice": plain(pos.entry_price),
        "breakEvenPrice": plain(engine.leg_break_even(pos)),
        "markPrice": f8(engine.mark_price(s)),
        "unRealizedProfit": f8(engine.leg_unrealized(pos)),
        "liquidationPrice": plain(engine.liquidation_price(s, pos.side)),
        "isolatedMargin": "0.00000000",
        "notional": f8(engine.leg_notional(pos)),
        "isolatedWallet": "0",
        "updateTime": pos.update_time,
    }
    if v2:
        common.update(
            {
                "marginType": "cross",
                "isAutoAddMargin": "false",
                "leverage": str(pos.leverage),
                "maxNotionalValue": max_notional(pos.leverage),
            }
        )
    else:
        position_im = engine.leg_initial_margin(pos)
        order_im = _order_margin(engine, pos)
        common.update(
            {
                "marginAsset": MARGIN_ASSET,
                "initialMargin": f8(position_im + order_im),
                "maintMargin": f8(engine.leg_maint_margin(pos)),
                "positionInitialMargin": f8(position_im),
                "openOrderInitialMargin": f8(order_im),
                "adl": 1 if pos.amount else 0,
                "bidNotional": f8(engine.side_notional(s, Side.BUY)),
                "askNotional": f8(engine.side_notional(s, Side.SELL)),
            }
        )
    return common


# ----------------------------------------------------------------------------- exchangeInfo


def exchange_info(
    specs: list[SymbolSpec], now: int, weight_limit: int, orders_10s: int, orders_1m: int
) -> JSON:
    """``GET /fapi/v1/exchangeInfo``."""
    return {
        "timezone": "UTC",
        "serverTime": now,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": weight_limit,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": orders_1m},
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": orders_10s,
            },
        ],
        "exchangeFilters": [],
        "assets": [
            {"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"},
        ],
        "symbols": [_symbol_json(spec) for spec in specs],
    }


def _symbol_json(spec: SymbolSpec) -> JSON:
    return {
        "symbol": spec.symbol,
        "pair": spec.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset,
        "pricePrecision": spec.price_precision,
        "quantityPrecision": spec.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": str(spec.min_price_value),
                "maxPrice": str(spec.max_price),
                "tickSize": str(spec.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": str(spec.min_qty),
                "maxQty": str(spec.max_qty),
                "stepSize": str(spec.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": str(spec.lot_min_qty(market=True)),
                "maxQty": str(spec.market_max_qty),
                "stepSize": str(spec.lot_step(market=True)),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": spec.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": str(spec.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": str(spec.multiplier_up),
                "multiplierDown": str(spec.multiplier_down),
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


# ----------------------------------------------------------------------------- user events


def order_trade_update(event: OrderEvent, spec: SymbolSpec, now: int) -> JSON:
    """``ORDER_TRADE_UPDATE``."""
    o = event.order
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": now,
        "T": event.time,
        "o": {
            "s": o.symbol,
            "c": o.client_order_id,
            "S": o.side.value,
            "o": o.type.value,
            "f": o.time_in_force.value,
            "q": spec.fmt_qty(o.orig_qty),
            "p": spec.fmt_price(o.price) if o.price else "0",
            "ap": plain(o.avg_price.quantize(Decimal("0.00000001"))) if o.executed_qty else "0",
            "sp": "0",
            "x": event.execution_type,
            "X": o.status.value,
            "i": o.order_id,
            "l": spec.fmt_qty(event.last_qty),
            "z": spec.fmt_qty(o.executed_qty),
            "L": spec.fmt_price(event.last_price) if event.last_qty else "0",
            "N": MARGIN_ASSET,
            "n": f8(event.commission),
            "T": event.time,
            "t": event.trade_id,
            "b": "0",
            "a": "0",
            "m": event.maker,
            "R": o.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": o.type.value,
            "ps": o.position_side,
            "cp": False,
            "pP": False,
            "si": 0,
            "ss": 0,
            "rp": f8(event.realized_pnl),
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
            "er": event.expiry_reason,
        },
    }


def account_update(event: AccountEvent, engine: Engine, now: int) -> JSON:
    """``ACCOUNT_UPDATE``."""
    return {
        "e": "ACCOUNT_UPDATE",
        "E": now,
        "T": event.time,
        "a": {
            "m": event.reason,
            "B": [{"a": a, "wb": f8(wb), "cw": f8(cw), "bc": "0"} for a, wb, cw in event.balances],
            "P": [
                {
                    "s": p.symbol,
                    "pa": engine.specs[p.symbol].fmt_qty(p.amount),
                    "ep": plain(p.entry_price),
                    "bep": plain(p.break_even_price),
                    "cr": f8(p.realized),
                    "up": f8(p.unrealized),
                    "mt": "cross",
                    "iw": "0",
                    "ps": p.side,
                    "ma": MARGIN_ASSET,
                }
                for p in event.positions
            ],
        },
    }


def trade_lite(event: TradeEvent, spec: SymbolSpec, now: int) -> JSON:
    """``TRADE_LITE``."""
    o, t = event.order, event.trade
    return {
        "e": "TRADE_LITE",
        "E": now,
        "T": t.time,
        "s": o.symbol,
        "q": spec.fmt_qty(o.orig_qty),
        "p": spec.fmt_price(o.price) if o.price else "0",
        "m": t.maker,
        "c": o.client_order_id,
        "S": o.side.value,
        "L": spec.fmt_price(t.price),
        "l": spec.fmt_qty(t.qty),
        "t": t.trade_id,
        "i": o.order_id,
    }


def account_config_update(event: LeverageEvent, now: int) -> JSON:
    """``ACCOUNT_CONFIG_UPDATE`` for a leverage change."""
    return {
        "e": "ACCOUNT_CONFIG_UPDATE",
        "E": now,
        "T": event.time,
        "ac": {"s": event.symbol, "l": event.leverage},
    }


def listen_key_expired(listen_key: str, now: int) -> JSON:
    """``listenKeyExpired``."""
    return {"e": "listenKeyExpired", "E": now, "listenKey": listen_key}


# ----------------------------------------------------------------------------- market streams


def book_ticker(path: PricePath, tick: Tick, now: int) -> JSON:
    """``<symbol>@bookTicker``."""
    pp, qp = path.pp, path.qp
    return {
        "e": "bookTicker",
        "u": tick.update_id,
        "E": now,
        "T": now,
        "s": path.spec.symbol,
        "b": units_to_str(tick.bid, pp),
        "B": units_to_str(tick.bid_qty, qp),
        "a": units_to_str(tick.ask, pp),
        "A": units_to_str(tick.ask_qty, qp),
    }


def agg_trade(path: PricePath, tick: Tick, now: int) -> JSON:
    """``<symbol>@aggTrade``."""
    qty = units_to_str(tick.trade_qty, path.qp)
    return {
        "e": "aggTrade",
        "E": now,
        "a": tick.agg_id,
        "s": path.spec.symbol,
        "p": units_to_str(tick.trade_price, path.pp),
        "q": qty,
        "nq": qty,
        "f": tick.first_trade_id,
        "l": tick.last_trade_id,
        "T": now,
        "m": tick.buyer_maker,
    }


def mark_price_update(path: PricePath, tick: Tick, now: int) -> JSON:
    """``<symbol>@markPrice`` / ``@markPrice@1s``."""
    mid = Decimal(tick.bid + tick.ask).scaleb(-path.pp) / 2
    mark = f8(mid)
    next_funding = now - now % 28_800_000 + 28_800_000
    return {
        "e": "markPriceUpdate",
        "E": now,
        "s": path.spec.symbol,
        "p": mark,
        "ap": mark,
        "P": mark,
        "i": mark,
        "r": "0.00010000",
        "T": next_funding,
    }
