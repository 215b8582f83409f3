"""Where user-data events go: the account-state cache (``framework/cache.py``) implements this."""

from __future__ import annotations

from typing import Protocol

from framework.types import Balance, Fill, Order, Position


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

    def begin_event(self) -> None:
        """The entries applied until ``end_event`` are one exchange event."""
        ...

    def end_event(self) -> None:
        """The event is applied whole: announce its changes."""
        ...
