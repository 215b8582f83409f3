"""What survives a restart: strategy state, order intents, and who owns which position.

A plugin that keeps data on disk (the built-in ``journal``) publishes a ``StateStore`` with
``ctx.publish_state_store`` in its ``lifespan`` start; it starts before every strategy, so the
core loads each instance's saved state before the instance starts. Without a store, state and
intents live in memory for this run only (``ctx.state_persistent`` is false, and the core says
so once in the log).

* **Strategy state**: a JSON object per strategy instance (``Strategy.state``, saved with
  ``await self.save_state(ctx)``). ``Decimal`` values are saved as strings and come back as
  strings: convert them when you load (``Decimal(self.state["paid"])``).
* **Order intents**: ``StrategyOrders.place(request, intent="...")`` records the intent with its
  client order id before the order is sent; placing the same intent again, in this run or any
  later one, never sends a second order (docs/strategies.md#restarts-state-and-intents).
* **Attribution**: the fills held, each with the client order id of its order, so positions
  are attributed to the instance whose orders made them (``ctx.attributed_positions()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import msgspec

from framework.types import OrderRequest, OrderSide

UNATTRIBUTED = "-"
"""The owner of fills whose order tradeloop did not place (or whose order is unknown)."""


class IntentRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An order of one strategy instance, recorded before it was sent.

    ``intent`` is the key the strategy gave ``place`` (its client order id when it gave none).
    ``order_id`` is the exchange's id once the order was acknowledged or found; ``None`` while
    nobody knows whether it reached the exchange (the bot died in between).
    """

    strategy_id: str
    intent: str
    client_order_id: str
    request: OrderRequest
    created_at: int
    """Epoch ms, by the bot's clock."""
    order_id: int | None = None


class OwnedFill(msgspec.Struct, frozen=True, kw_only=True):
    """One fill held by the store, with the client order id of its order ("" if unknown)."""

    symbol: str
    side: OrderSide
    qty: Decimal
    client_order_id: str


@runtime_checkable
class StateStore(Protocol):
    """Durable storage for strategy state and order intents (the journal provides one)."""

    location: str
    """Where it lives, for messages."""

    async def load_states(self) -> dict[str, dict[str, Any]]:
        """Every saved state, by strategy instance id."""
        ...

    async def save_state(self, strategy_id: str, data: bytes, at: int) -> None:
        """Replace the instance's state with ``data`` (JSON); durable once this returns."""
        ...

    async def intent(self, strategy_id: str, intent: str) -> IntentRecord | None:
        """The recorded intent, or ``None`` if the instance never placed it."""
        ...

    async def record_intent(self, record: IntentRecord) -> None:
        """Record an intent; durable once this returns (before its order is sent)."""
        ...

    async def acknowledge_intent(self, client_order_id: str, order_id: int | None) -> None:
        """The exchange has the order (``order_id``), or, with ``None``, never got it (the
        record is then forgotten, so the intent may be placed anew)."""
        ...

    async def unacknowledged(self) -> list[IntentRecord]:
        """Intents sent (or about to be) whose outcome no run learnt: the bot died."""
        ...

    async def owned_fills(self) -> list[OwnedFill]:
        """Every fill held, with its order's client order id where it is known."""
        ...


@dataclass(frozen=True)
class Attribution:
    """Net positions (one-way: BUY adds, SELL subtracts) per owner and symbol, from the fills
    held; ``UNATTRIBUTED`` for fills of orders tradeloop did not place or cannot name."""

    by_owner: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    fills: int = 0

    def of(self, owner: str, symbol: str) -> Decimal:
        """The position ``owner`` holds on ``symbol`` (0 when none)."""
        return self.by_owner.get(owner, {}).get(symbol, Decimal(0))

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the run summary (amounts as strings, zero positions left out)."""
        return {
            "fills": self.fills,
            "by_owner": {
                owner: {s: str(a) for s, a in sorted(symbols.items()) if a}
                for owner, symbols in sorted(self.by_owner.items())
                if any(symbols.values())
            },
        }


def attribute(fills: list[OwnedFill], owner_of: Any) -> Attribution:
    """Sum ``fills`` per owner (``owner_of(client_order_id)``, ``UNATTRIBUTED`` when ``None``)."""
    by_owner: dict[str, dict[str, Decimal]] = {}
    for fill in fills:
        owner = (owner_of(fill.client_order_id) if fill.client_order_id else None) or UNATTRIBUTED
        signed = fill.qty if fill.side == "BUY" else -fill.qty
        symbols = by_owner.setdefault(owner, {})
        symbols[fill.symbol] = symbols.get(fill.symbol, Decimal(0)) + signed
    return Attribution(by_owner=by_owner, fills=len(fills))


_encoder = msgspec.json.Encoder(decimal_format="string")


def encode_state(strategy_id: str, state: Mapping[str, Any]) -> bytes:
    """``state`` as JSON; ``ValueError`` naming the instance if it is not JSON-able."""
    if not isinstance(state, Mapping):
        raise ValueError(f"state of strategy {strategy_id!r} must be a mapping, not {state!r}")
    try:
        return _encoder.encode(dict(state))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(
            f"state of strategy {strategy_id!r} cannot be saved as JSON: {exc}"
        ) from None


def decode_state(data: bytes | str) -> dict[str, Any]:
    """A saved state back as plain data (``{}`` for anything but a JSON object)."""
    value = msgspec.json.decode(data)
    return value if isinstance(value, dict) else {}
