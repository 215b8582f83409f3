"""Where user-data events go: the account-state cache (``framework/cache.py``) implements this."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from framework.types import Balance, Fill, Order, Position


@runtime_checkable
class AccountSink(Protocol):
    """The account cache as the connector sees it; each method returns True when applied.

    The cache orders by event time, drops duplicates and emits the ``on_*_update`` hooks itself.
    """

    def apply_balance(self, b: Balance) -> bool:
        """Apply one asset's balance."""
        ...

    def apply_position(self, p: Position) -> bool:
        """Apply one (symbol, side) position."""
        ...

    def apply_order(self, o: Order) -> bool:
        """Apply an order's state."""
        ...

    def apply_fill(self, f: Fill) -> bool:
        """Apply one trade of an order."""
        ...


class HookSink:
    """Stand-in used only when the bot has no account cache (``ctx.cache``): keeps the latest
    entry per key and emits the ``on_*_update``/``on_fill`` hooks, without ordering or repair."""

    def __init__(self, hooks: Any) -> None:
        self._hooks = hooks
        self.balances: dict[str, Balance] = {}
        self.positions: dict[tuple[str, str], Position] = {}
        self.orders: dict[tuple[str, int], Order] = {}
        self._fills: set[tuple[str, int, int]] = set()

    def apply_balance(self, b: Balance) -> bool:
        """Store and announce a balance."""
        before = self.balances.get(b.asset)
        self.balances[b.asset] = b
        self._hooks.on_balance_update(before, b)
        return True

    def apply_position(self, p: Position) -> bool:
        """Store and announce a position."""
        key = (p.symbol, p.side)
        before = self.positions.get(key)
        self.positions[key] = p
        self._hooks.on_position_update(before, p)
        return True

    def apply_order(self, o: Order) -> bool:
        """Store and announce an order."""
        key = (o.symbol, o.order_id)
        before = self.orders.get(key)
        self.orders[key] = o
        self._hooks.on_order_update(before, o)
        return True

    def apply_fill(self, f: Fill) -> bool:
        """Announce a fill once per (symbol, order id, trade id)."""
        key = (f.symbol, f.order_id, f.trade_id)
        if key in self._fills:
            return False
        self._fills.add(key)
        self._hooks.on_fill(f)
        return True
