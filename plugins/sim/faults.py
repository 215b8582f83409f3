"""Fault injection: seeded draws, counters, the user-event drop/duplicate/reorder/delay, and
orders that order queries show late."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import msgspec

from .config import FaultSettings

FAULT_NAMES: tuple[str, ...] = FaultSettings.__struct_fields__
EXTRA_COUNTERS = ("unknown_order_outcome_executed", "late_order_hidden")


class FaultInjector:
    """Holds the current fault settings, draws from one ``random.Random`` per fault, counts hits."""

    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self.settings = settings
        self._rngs = {name: random.Random(f"{seed}:fault:{name}") for name in FAULT_NAMES}
        self._rngs["unknown_order_outcome_executed"] = random.Random(f"{seed}:fault:executed")
        self._rngs["rest_error_status"] = random.Random(f"{seed}:fault:status")
        self.counts: dict[str, int] = dict.fromkeys(FAULT_NAMES + EXTRA_COUNTERS, 0)

    def update(self, **changes: Any) -> FaultSettings:
        """Switch faults at run time; values are validated like settings (ValidationError)."""
        merged = msgspec.structs.asdict(self.settings)
        merged.update(changes)
        self.settings = msgspec.convert(merged, FaultSettings, strict=False)
        return self.settings

    def roll(self, name: str) -> bool:
        """Draw for a fraction-valued fault; count and return True when it fires."""
        fraction = float(getattr(self.settings, name))
        if fraction <= 0:
            return False
        if self._rngs[name].random() >= fraction:
            return False
        self.counts[name] += 1
        return True

    def coin(self, name: str) -> bool:
        """A seeded 50/50 draw used to vary a fault's outcome (no counting)."""
        return self._rngs[name].random() < 0.5

    def choice(self, name: str, options: tuple[int, ...]) -> int:
        """A seeded choice among options."""
        return self._rngs[name].choice(options)

    def count(self, name: str, n: int = 1) -> None:
        """Record ``n`` injections of a time-driven fault."""
        self.counts[name] += n


class UserEventFilter:
    """Applies drop, duplicate, reorder and delay faults to one listenKey's event stream."""

    def __init__(
        self,
        injector: FaultInjector,
        deliver: Callable[[bytes], None],
        delay: Callable[[], float],
    ) -> None:
        self._injector = injector
        self._deliver = deliver
        self._delay = delay
        self._held: bytes | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    def push(self, message: bytes) -> None:
        """Pass one encoded event through the faults to the connections."""
        inj = self._injector
        if inj.roll("drop_user_events"):
            return
        copies = 2 if inj.roll("duplicate_user_events") else 1
        if inj.roll("delay_user_events"):
            for _ in range(copies):
                self._later(message)
            return
        if self._held is None and inj.roll("reorder_user_events"):
            self._held = message
            self._later(None)
            return
        for _ in range(copies):
            self._deliver(message)
        self._release()

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._deliver(held)

    def _later(self, message: bytes | None) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            if message is None:
                self._release()
            else:
                self._deliver(message)

        handle = loop.call_later(self._delay(), fire)
        self._timers.add(handle)

    def close(self) -> None:
        """Cancel pending delayed deliveries."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self._held = None


class LateOrders:
    """The ``late_order_rate`` fault: accepted orders that order queries do not show yet.

    A drawn order is answered -2013 by ``GET /fapi/v1/order`` and ``GET /fapi/v1/openOrder``
    and left out of ``GET /fapi/v1/openOrders`` until ``seconds`` have passed on the
    simulator's clock since it was accepted **and** it was asked for by id ``queries`` times.
    The user-data stream, cancels and the trade list see it at once. Each hidden answer is
    counted as ``late_order_hidden``.
    """

    def __init__(self, injector: FaultInjector) -> None:
        self._injector = injector
        self._hidden: dict[tuple[str, int], list[int]] = {}  # -> [visible at (ms), lookups left]

    def accepted(
        self, symbol: str, order_id: int, now_ms: int, seconds: float, queries: int
    ) -> None:
        """An order was accepted over REST: draw whether it shows late."""
        if self._injector.roll("late_order_rate"):
            self._hidden[(symbol, order_id)] = [now_ms + round(seconds * 1000), queries]

    def hides(self, symbol: str, order_id: int, now_ms: int, *, lookup: bool) -> bool:
        """True if the order is still hidden; ``lookup``: it is being asked for by id."""
        key = (symbol, order_id)
        entry = self._hidden.get(key)
        if entry is None:
            return False
        visible_at, lookups_left = entry
        if now_ms >= visible_at and lookups_left <= 0:
            del self._hidden[key]
            return False
        if lookup:
            entry[1] = lookups_left - 1
        self._injector.count("late_order_hidden")
        return True
