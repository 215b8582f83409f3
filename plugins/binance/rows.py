"""REST answers read entry by entry: one insane entry is dropped, the others are kept.

A list answer (balances, positions, open orders, trades) is split into its raw entries first;
each is decoded and checked (``checks``) on its own. An entry that fails becomes a ``BadRow``
carrying what could still be read of its identity (asset, symbol, side, order id, each only if
it is well formed itself), so reconciliation can leave the matching cache entry alone.
A single-object answer that fails raises ``BadAnswer``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec

from .checks import Horizon, Names, id_problem

R = TypeVar("R")
Problem = Callable[[R, Names, Horizon], "str | None"]
SIDES = frozenset({"BOTH", "LONG", "SHORT"})


class BadAnswer(ValueError):
    """A REST answer holding a value that is not sane; the message says which."""


@dataclass(frozen=True, slots=True)
class BadRow:
    """One dropped entry: what was wrong, and the parts of its key that could be read."""

    problem: str
    asset: str = ""
    symbol: str = ""
    side: str = ""
    order_id: int | None = None


@dataclass(slots=True)
class Rows(Generic[R]):
    """The sane entries of a list answer, and the dropped ones."""

    good: list[R] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


class _Key(msgspec.Struct):
    asset: Any = None
    symbol: Any = None
    positionSide: Any = None
    orderId: Any = None


_key_decoder = msgspec.json.Decoder(_Key)
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])


def key_of(raw: msgspec.Raw | bytes, names: Names) -> BadRow:
    """The readable, well-formed key fields of one raw entry (a ``BadRow`` without problem)."""
    try:
        key = _key_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return BadRow("")

    def name(value: Any) -> str:
        return value if isinstance(value, str) and names.problem(value) is None else ""

    order_id = key.orderId
    ok_id = type(order_id) is int and id_problem(order_id) is None
    return BadRow(
        "",
        asset=name(key.asset),
        symbol=name(key.symbol),
        side=key.positionSide if key.positionSide in SIDES else "",
        order_id=order_id if ok_id else None,
    )


class RowReader(Generic[R]):
    """Decodes a list answer of ``row`` entries, checking each with ``problem``.

    Pure and thread-safe (the connector runs large answers through it in a worker thread).
    """

    def __init__(self, row: type[R], problem: Problem[R], names: Names, horizon: Horizon) -> None:
        self._decoder = msgspec.json.Decoder(row)
        self._problem = problem
        self._names = names
        self._horizon = horizon

    def __call__(self, body: bytes) -> Rows[R]:
        """Every entry of ``body`` (a JSON list), sorted into good and bad."""
        out: Rows[R] = Rows()
        for raw in _raw_list_decoder.decode(body):
            try:
                entry = self._decoder.decode(raw)
            except msgspec.ValidationError as exc:
                problem = str(exc)
            else:
                found = self._problem(entry, self._names, self._horizon)
                if found is None:
                    out.good.append(entry)
                    continue
                problem = found
            key = key_of(raw, self._names)
            out.bad.append(BadRow(problem, key.asset, key.symbol, key.side, key.order_id))
        return out


class OneReader(Generic[R]):
    """Decodes a single-object answer of type ``row`` and checks it; ``BadAnswer`` if not sane."""

    def __init__(self, row: type[R], problem: Problem[R], names: Names, horizon: Horizon) -> None:
        self._decoder = msgspec.json.Decoder(row)
        self._problem = problem
        self._names = names
        self._horizon = horizon

    def __call__(self, body: bytes) -> R:
        """The answer, checked."""
        entry = self._decoder.decode(body)
        problem = self._problem(entry, self._names, self._horizon)
        if problem is not None:
            raise BadAnswer(problem)
        return entry
