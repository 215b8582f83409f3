"""Hostile values to put into exchange messages (issue 13 item 3), for the simulator's tamper hooks.

``corrupt_event`` and ``corrupt_rows`` rewrite one field of a user-data event or of one REST
entry with a value no sane exchange sends: ``NaN``, ``±Infinity``, huge exponents, 5,000-digit
numbers, negative quantities, oversized client order ids, control and bidi characters in
symbols, event times in the year 9999. They return a copy and say what they did.
"""

from __future__ import annotations

import copy
import random
from typing import Any

FAR_FUTURE_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z
NUMBERS = (
    "NaN",
    "sNaN",
    "-Infinity",
    "Infinity",
    "1E+999999",
    "-1E+999999",
    "9" * 5000,
    "0." + "3" * 5000,
)
NEGATIVE = "-0.5"
HUGE_ID = "x" * 100_000
SYMBOLS = ("BTC\u202eUSDT\x00", "\x00", "ETH USDT", "B" * 200, "")

# field -> kind of value: "number" (any insane number), "qty" (also negative), "symbol",
# "id" (client order id), "time"
EVENT_FIELDS: dict[str, dict[str, str]] = {
    "ACCOUNT_UPDATE": {
        "E": "time",
        "a.B.wb": "number",
        "a.B.cw": "number",
        "a.B.a": "symbol",
        "a.P.pa": "number",
        "a.P.ep": "qty",
        "a.P.up": "number",
        "a.P.s": "symbol",
    },
    "ORDER_TRADE_UPDATE": {
        "E": "time",
        "o.T": "time",
        "o.s": "symbol",
        "o.c": "id",
        "o.q": "qty",
        "o.p": "qty",
        "o.z": "qty",
        "o.ap": "qty",
        "o.l": "qty",
        "o.L": "qty",
        "o.n": "number",
        "o.rp": "number",
    },
}
ROW_FIELDS: dict[str, dict[str, str]] = {
    "/fapi/v3/balance": {
        "balance": "number",
        "crossWalletBalance": "number",
        "asset": "symbol",
        "updateTime": "time",
    },
    "/fapi/v3/positionRisk": {
        "positionAmt": "number",
        "entryPrice": "qty",
        "unRealizedProfit": "number",
        "symbol": "symbol",
        "updateTime": "time",
    },
    "/fapi/v1/openOrders": {
        "origQty": "qty",
        "executedQty": "qty",
        "price": "qty",
        "clientOrderId": "id",
        "symbol": "symbol",
        "updateTime": "time",
    },
    "/fapi/v1/userTrades": {
        "price": "qty",
        "qty": "qty",
        "commission": "number",
        "realizedPnl": "number",
        "symbol": "symbol",
        "time": "time",
    },
}


def hostile_value(kind: str, rng: random.Random) -> Any:
    """One insane value of a kind of field."""
    if kind == "time":
        return FAR_FUTURE_MS
    if kind == "symbol":
        return rng.choice(SYMBOLS)
    if kind == "id":
        return HUGE_ID
    if kind == "qty" and rng.random() < 0.4:
        return NEGATIVE
    return rng.choice(NUMBERS)


def _set(target: dict[str, Any], path: list[str], value: Any, rng: random.Random) -> bool:
    """Set ``path`` in ``target``; a list on the way picks one of its items."""
    node: Any = target
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
        if isinstance(node, list):
            if not node:
                return False
            node = rng.choice(node)
    if not isinstance(node, dict) or path[-1] not in node:
        return False
    node[path[-1]] = value
    return True


def corrupt_event(payload: dict[str, Any], rng: random.Random) -> tuple[dict[str, Any], str] | None:
    """A copy of a user-data event with one field made insane, and what was done; ``None`` if
    the event type has no field to corrupt (or the one drawn is absent)."""
    fields = EVENT_FIELDS.get(payload.get("e", ""))
    if not fields:
        return None
    name = rng.choice(sorted(fields))
    value = hostile_value(fields[name], rng)
    out = copy.deepcopy(payload)
    if not _set(out, name.split("."), value, rng):
        return None
    return out, f"{payload['e']} {name}={str(value)[:24]!r}"


def corrupt_rows(path: str, rows: Any, rng: random.Random) -> tuple[Any, str] | None:
    """A copy of a REST list answer with one field of one entry made insane, and what was
    done; ``None`` for other endpoints or an empty list."""
    fields = ROW_FIELDS.get(path)
    if not fields or not isinstance(rows, list) or not rows:
        return None
    out = copy.deepcopy(rows)
    row = rng.choice(out)
    name = rng.choice(sorted(fields))
    if name not in row:
        return None
    value = hostile_value(fields[name], rng)
    row[name] = value
    return out, f"{path} {name}={str(value)[:24]!r}"
