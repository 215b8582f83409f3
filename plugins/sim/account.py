"""The simulator's paper account on disk: it lives on across runs, like a real account.

One JSON file (``<runtime.data_dir>/sim/account.json`` for the embedded and the standalone
simulator) holds balances, positions, open orders, the recent order, trade and income history
and the id counters. It is written atomically (a temporary file, fsync, rename), loaded at start,
and locked while a simulator uses it. A file that cannot be read is an error naming it; nothing
overwrites it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO

import msgspec

from framework.errors import TradeloopError

from .engine import Engine, Income, Order, Position, Trade

FORMAT_VERSION = 1
# Closed orders, trades and incomes kept in the file (newest first kept); open orders always.
HISTORY_LIMIT = 10_000
ACCOUNT_DIR = "sim"
PAPER_ACCOUNT_DIR = "paper"  # exchange.name: paper keeps its account apart from the simulator's
ACCOUNT_FILE = "account.json"


class AccountFileError(TradeloopError):
    """The saved account cannot be used; the message names the file and what to do."""


class SavedAccount(msgspec.Struct, forbid_unknown_fields=True):
    """The file's content."""

    version: int
    saved_at: int
    wallet: dict[str, Decimal]
    balance_update_time: dict[str, int]
    positions: list[Position]
    orders: list[Order]
    trades: list[Trade]
    incomes: list[Income]
    next_order_id: int
    next_trade_id: int
    next_tran_id: int

    def symbols(self) -> set[str]:
        """Symbols with a position, an open order or a recorded trade."""
        held = {p.symbol for p in self.positions if p.amount}
        return held | {o.symbol for o in self.orders if o.is_open}


def account_path(data_dir: str | os.PathLike[str], *, paper: bool = False) -> Path:
    """Where the simulator (or, ``paper``, the paper exchange) keeps its account."""
    return Path(data_dir) / (PAPER_ACCOUNT_DIR if paper else ACCOUNT_DIR) / ACCOUNT_FILE


def capture(engine: Engine, now_ms: int) -> SavedAccount:
    """The engine's account as it is now."""
    open_ids = {
        (o.symbol, o.order_id) for book in engine.open_orders.values() for o in book.values()
    }
    closed = [o for key, o in engine.orders.items() if key not in open_ids][-HISTORY_LIMIT:]
    opened = [engine.orders[key] for key in sorted(open_ids, key=lambda k: k[1])]
    return SavedAccount(
        version=FORMAT_VERSION,
        saved_at=now_ms,
        wallet=dict(engine.wallet),
        balance_update_time=dict(engine.balance_update_time),
        positions=[*engine.positions.values(), *engine.sides.values()],
        orders=closed + opened,
        trades=engine.trades[-HISTORY_LIMIT:],
        incomes=engine.incomes[-HISTORY_LIMIT:],
        next_order_id=engine.next_order_id,
        next_trade_id=engine.next_trade_id,
        next_tran_id=engine.next_tran_id,
    )


def restore(engine: Engine, saved: SavedAccount) -> None:
    """Put a saved account into a fresh engine listing at least the saved account's symbols."""
    engine.wallet = dict(saved.wallet)
    engine.balance_update_time = {a: saved.balance_update_time.get(a, 0) for a in saved.wallet}
    for position in saved.positions:
        if position.symbol not in engine.positions:
            continue
        hedge = position.side != "BOTH"
        if hedge != engine.dual:
            if position.amount:
                mode = "hedge" if hedge else "one-way"
                raise AccountFileError(
                    f"the simulator account holds a {mode}-mode position on {position.symbol} "
                    f"({position.side} {position.amount}); set plugins.sim.dual_side_position: "
                    f"{str(hedge).lower()} to use it"
                )
            continue
        if hedge:
            engine.sides[(position.symbol, position.side)] = position
        else:
            engine.positions[position.symbol] = position
    for order in saved.orders:
        engine.orders[(order.symbol, order.order_id)] = order
        engine.client_ids[(order.symbol, order.client_order_id)] = order.order_id
        if order.is_open:
            engine.open_orders[order.symbol][order.order_id] = order
    engine.trades = list(saved.trades)
    engine.incomes = list(saved.incomes)
    engine.next_order_id = max(engine.next_order_id, saved.next_order_id)
    engine.next_trade_id = max(engine.next_trade_id, saved.next_trade_id)
    engine.next_tran_id = max(engine.next_tran_id, saved.next_tran_id)


def load(path: Path) -> SavedAccount | None:
    """The account saved at ``path``; ``None`` when there is none yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AccountFileError(f"cannot read the simulator account {path}: {exc}") from None
    try:
        saved = msgspec.json.decode(data, type=SavedAccount)
    except msgspec.DecodeError as exc:
        raise AccountFileError(
            f"the simulator account {path} is damaged ({exc}); move it aside to start a fresh "
            "account (`tradeloop sim --reset` does that)"
        ) from None
    if saved.version != FORMAT_VERSION:
        raise AccountFileError(
            f"the simulator account {path} has format version {saved.version}, this tradeloop "
            f"reads {FORMAT_VERSION}"
        )
    return saved


def encode(saved: SavedAccount) -> bytes:
    """The file content of ``saved``."""
    return msgspec.json.format(msgspec.json.encode(saved), indent=1)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def move_aside(path: Path, now: datetime | None = None) -> Path | None:
    """Rename the saved account to ``account.<UTC time>.json`` (kept, never deleted)."""
    if not path.exists():
        return None
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
    path.replace(target)
    return target


@dataclass
class AccountLock:
    """An exclusive lock beside the account file, held while one simulator uses it."""

    path: Path
    _handle: IO[bytes] | None = None

    def acquire(self) -> None:
        """Take the lock; ``AccountFileError`` when another simulator holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.with_name(f".{self.path.name}.lock").open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise AccountFileError(
                f"the simulator account {self.path} is in use by another simulator"
            ) from None
        self._handle = handle

    def release(self) -> None:
        """Give the lock back."""
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
