"""What a run ended with, in plain data: its fills, reconcile results and final cache.

The recorder writes the live run's outcome as the recording's last record; ``tradeloop
replay`` builds the replay's the same way and compares them (``differences``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from framework.cache import AccountView
from framework.types import Fill, ReconcileResult

Rename = Callable[[str], str]


def _same(text: str) -> str:
    return text


def fill_row(fill: Fill, rename: Rename = _same) -> dict[str, Any]:
    """A fill as plain data (money as text); ``rename`` maps its client order id."""
    row: dict[str, Any] = msgspec.to_builtins(fill)
    row["client_order_id"] = rename(fill.client_order_id)
    return row


def reconcile_row(result: ReconcileResult) -> dict[str, Any]:
    """A reconcile result as plain data, without its duration (host time)."""
    row: dict[str, Any] = msgspec.to_builtins(result)
    row.pop("duration_s", None)
    return row


def cache_of(view: AccountView, rename: Rename = _same) -> dict[str, Any]:
    """The cache's balances, positions and open orders, sorted, as plain data."""
    orders = []
    for order in sorted(view.open_orders.values(), key=lambda o: (o.symbol, o.order_id)):
        row = msgspec.to_builtins(order)
        row["client_order_id"] = rename(order.client_order_id)
        orders.append(row)
    return {
        "balances": [msgspec.to_builtins(b) for _, b in sorted(view.balances.items())],
        "positions": [msgspec.to_builtins(p) for _, p in sorted(view.positions.items())],
        "open_orders": orders,
    }


def outcome_of(
    fills: Iterable[dict[str, Any]], results: Iterable[dict[str, Any]], cache: dict[str, Any]
) -> dict[str, Any]:
    """The outcome record's content, as JSON would carry it (lists, not tuples), so an outcome
    read back from a recording compares equal to one just built."""
    plain = {"fills": list(fills), "reconcile": list(results), "cache": cache}
    out: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(plain))
    return out


def differences(live: dict[str, Any], replay: dict[str, Any], limit: int = 20) -> list[str]:
    """What differs between two outcomes, one line each (at most ``limit``); empty: equal."""
    out: list[str] = []
    for section in ("fills", "reconcile", "cache"):
        a, b = live.get(section), replay.get(section)
        if a == b:
            continue
        if isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                out.append(f"{section}: {len(a)} in the live run, {len(b)} in the replay")
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                if x != y:
                    out.append(f"{section}[{i}]: live {x!r} != replay {y!r}")
                    break
        elif isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    out.append(f"{section}.{key}: live {a.get(key)!r} != replay {b.get(key)!r}")
        else:
            out.append(f"{section}: live {a!r} != replay {b!r}")
    return out[:limit]
