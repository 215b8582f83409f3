"""``SQLiteStore``: the journal in one SQLite file, WAL mode, through aiosqlite's own thread."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import msgspec
import orjson

from framework.state import IntentRecord, OwnedFill, decode_state
from framework.types import OrderRequest, TradeCursors

from .migrations import MIGRATIONS
from .records import (
    BalanceRow,
    CommandRow,
    DegradedRow,
    FillRow,
    KillSwitchResumeRow,
    KillSwitchRow,
    LogStatsRow,
    MismatchRow,
    OrderRow,
    PluginErrorRow,
    PositionRow,
    ReconcileRow,
    Record,
    RunEnd,
    RunRow,
    RunSeen,
    SampleRow,
    StreamRow,
    TradeCursorRow,
)
from .store import JournalError, damaged_journal

R = TypeVar("R", bound=msgspec.Struct)

# Row type -> (table, insert verb). Fills and runs are unique: a second copy is ignored.
_TABLES: dict[type[Any], tuple[str, str]] = {
    RunRow: ("runs", "INSERT OR IGNORE"),
    OrderRow: ("orders", "INSERT"),
    FillRow: ("fills", "INSERT OR IGNORE"),
    BalanceRow: ("balances", "INSERT"),
    PositionRow: ("positions", "INSERT"),
    SampleRow: ("samples", "INSERT"),
    ReconcileRow: ("reconciles", "INSERT OR IGNORE"),
    StreamRow: ("stream_states", "INSERT"),
    DegradedRow: ("degraded_periods", "INSERT"),
    PluginErrorRow: ("plugin_errors", "INSERT"),
    LogStatsRow: ("log_stats", "INSERT"),
    KillSwitchRow: ("kill_switch_trips", "INSERT"),
    KillSwitchResumeRow: ("kill_switch_resumes", "INSERT OR IGNORE"),
    CommandRow: ("commands", "INSERT"),
}
_JSON_FIELDS = frozenset({"marks", "top_suppressed", "args"})
# A reconcile belongs to the time of its REST snapshot; one that failed before taking a
# snapshot (snapshot_time 0) to the time it was recorded.
# sqlite error names that mean the file itself is damaged.
DAMAGED = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
RECONCILE_TIME = "(CASE WHEN snapshot_time > 0 THEN snapshot_time ELSE ts END)"
# Rows fetched per round trip to aiosqlite's thread when streaming a table.
STREAM_CHUNK = 1000


def _columns(kind: type[Any]) -> tuple[str, ...]:
    return tuple(f for f in kind.__struct_fields__ if f != "mismatches")


def _sql_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict):
        return orjson.dumps({k: str(v) for k, v in value.items()}).decode()
    if isinstance(value, list):
        return orjson.dumps([str(v) for v in value]).decode()
    return value


def _insert_sql(kind: type[Any]) -> str:
    table, verb = _TABLES[kind]
    cols = _columns(kind)
    return f"{verb} INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


class SQLiteStore:
    """``JournalStore`` on SQLite: WAL, ``synchronous`` as configured, one writer connection.

    aiosqlite runs every statement in its own thread, so the event loop never waits on disk.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "NORMAL",
        migrations: Sequence[str] = MIGRATIONS,
        read_only: bool = False,
        check: bool = True,
    ) -> None:
        self.path = Path(path)
        self.check = check
        self.location = str(self.path)
        self.synchronous = synchronous
        self.migrations = tuple(migrations)
        self.read_only = read_only
        self._db: aiosqlite.Connection | None = None
        self._state_db: aiosqlite.Connection | None = None

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Create the file if needed, check it (``quick_check``), switch to WAL and apply
        pending migrations; a damaged file is refused (``JournalError``), never written to."""
        if self._db is not None:
            return
        if self.read_only:
            self._db = await self._open_reader()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = await aiosqlite.connect(self.path)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            await db.execute("PRAGMA busy_timeout=5000")
            if self.check:
                await self._check(db)
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute(f"PRAGMA synchronous={self.synchronous}")
            await self._migrate(db)
        except sqlite3.Error as exc:
            await db.close()
            raise self._error(exc) from None
        except BaseException:
            await db.close()
            raise
        self._db = db

    async def _state_connection(self) -> aiosqlite.Connection:
        """The connection of the state methods: its own, so a state commit never commits
        half of a batch the writer is inserting on the main one."""
        self.db  # noqa: B018 - raises if the store is not open
        if self._state_db is None:
            try:
                db = await aiosqlite.connect(self.path)
                await db.execute("PRAGMA busy_timeout=5000")
                await db.execute(f"PRAGMA synchronous={self.synchronous}")
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            self._state_db = db
        return self._state_db

    async def _open_reader(self) -> aiosqlite.Connection:
        """A connection that only reads a journal that already exists: opened ``mode=ro``
        (SQLite refuses every write, so nothing is created or migrated) and ``query_only``.
        A journal at another schema version than this tradeloop's is refused, naming both."""
        if not self.path.is_file():
            raise JournalError(f"no journal at {self.location}")
        try:
            db = await aiosqlite.connect(read_only_uri(self.path), uri=True)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            await db.execute("PRAGMA query_only=1")
            await db.execute("PRAGMA busy_timeout=5000")
            if self.check:
                await self._check(db)
            version = await _user_version(db)
            latest = len(self.migrations)
            if version > latest:
                raise JournalError(
                    f"journal {self.location} has schema version {version}, newer than this "
                    f"tradeloop understands ({latest})"
                )
            if version < latest:
                raise JournalError(
                    f"journal {self.location} has schema version {version}, older than this "
                    f"tradeloop's ({latest}); it is only read here, never upgraded: start the "
                    "bot on it once (tradeloop run) to upgrade it"
                )
        except sqlite3.Error as exc:
            await db.close()
            raise self._error(exc) from None
        except BaseException:
            await db.close()
            raise
        return db

    def reader(self) -> SQLiteStore:
        """A read-only store on the same file (a second connection; WAL lets it read while
        this one writes)."""
        return SQLiteStore(self.path, migrations=self.migrations, read_only=True, check=False)

    async def _check(self, db: aiosqlite.Connection) -> None:
        """``PRAGMA quick_check``: every page and b-tree well formed (linear in the file)."""
        async with db.execute("PRAGMA quick_check") as cursor:
            problems = [" ".join(str(row[0]).split()) for row in await cursor.fetchall()]
        if problems != ["ok"]:
            shown = "; ".join(problems[:3]) + (
                f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
            )
            raise damaged_journal(self.path, f"quick_check: {shown}")

    def _error(self, exc: sqlite3.Error) -> JournalError:
        """A damaged file (not a database, malformed) or another error, naming the file."""
        if getattr(exc, "sqlite_errorname", "") in DAMAGED or "malformed" in str(exc):
            return damaged_journal(self.path, str(exc))
        return JournalError(f"journal {self.location}: {exc}")

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        version = await _user_version(db)
        latest = len(self.migrations)
        if version > latest:
            raise JournalError(
                f"journal {self.location} has schema version {version}, newer than this "
                f"tradeloop understands ({latest}); upgrade tradeloop or use another file"
            )
        for number in range(version + 1, latest + 1):
            script = self.migrations[number - 1]
            await db.executescript(f"BEGIN;\n{script};\nPRAGMA user_version = {number};\nCOMMIT;")

    async def close(self) -> None:
        """Close the connection; a checkpoint folds the WAL back into the file."""
        state_db, self._state_db = self._state_db, None
        if state_db is not None:
            await state_db.close()
        db, self._db = self._db, None
        if db is not None and self.read_only:
            await db.close()
        elif db is not None:
            try:
                await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                await db.close()

    @property
    def db(self) -> aiosqlite.Connection:
        """The open connection; ``JournalError`` if ``open`` was not awaited."""
        if self._db is None:
            raise JournalError(f"journal {self.location} is not open")
        return self._db

    async def schema_version(self) -> int:
        """``PRAGMA user_version``."""
        return await _user_version(self.db)

    # ------------------------------------------------------------------ writing

    async def write(self, records: Sequence[Record]) -> None:
        """Insert every record in one transaction (rolled back as a whole on error)."""
        if not records:
            return
        grouped: dict[type[Any], list[tuple[Any, ...]]] = defaultdict(list)
        mismatches: list[tuple[Any, ...]] = []
        ends: list[tuple[Any, ...]] = []
        seen: dict[str, int] = {}
        cursors: dict[str, tuple[int, int]] = {}
        for record in records:
            if isinstance(record, TradeCursorRow):
                held = cursors.get(record.symbol)
                if held is None or record.trade_id > held[0]:
                    cursors[record.symbol] = (record.trade_id, record.ts)
                continue
            if isinstance(record, RunEnd):
                ends.append(
                    (record.stopped_at, record.stop_reason, record.stopped_at, record.run_id)
                )
                continue
            if isinstance(record, RunSeen):
                seen[record.run_id] = max(seen.get(record.run_id, 0), record.at)
                continue
            kind = type(record)
            grouped[kind].append(tuple(_sql_value(getattr(record, c)) for c in _columns(kind)))
            if isinstance(record, ReconcileRow):
                mismatches.extend((record.uid, *_mismatch_values(m)) for m in record.mismatches)
        db = self.db
        try:
            for kind, rows in grouped.items():
                await db.executemany(_insert_sql(kind), rows)
            if mismatches:
                await db.executemany(
                    "INSERT INTO mismatches (reconcile_uid, kind, key, cache_value, "
                    "exchange_value, cache_time, exchange_time, repaired) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    mismatches,
                )
            if seen:
                await db.executemany(
                    "UPDATE runs SET last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE run_id = ?",
                    [(at, run_id) for run_id, at in seen.items()],
                )
            if cursors:  # after the batch's fills, in the same transaction
                await db.executemany(
                    "INSERT INTO trade_cursors (symbol, trade_id, ts) VALUES (?, ?, ?) "
                    "ON CONFLICT (symbol) DO UPDATE SET trade_id = excluded.trade_id, "
                    "ts = excluded.ts WHERE excluded.trade_id > trade_cursors.trade_id",
                    [(symbol, t, ts) for symbol, (t, ts) in cursors.items()],
                )
            if ends:
                await db.executemany(
                    "UPDATE runs SET stopped_at = ?, stop_reason = ?, "
                    "last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE run_id = ?",
                    ends,
                )
            await db.commit()
        except BaseException:
            await db.rollback()
            raise

    # ------------------------------------------------------------------ reading

    async def _select(self, kind: type[R], where: str, params: Iterable[Any]) -> list[R]:
        table = _TABLES[kind][0]
        cols = _columns(kind)
        sql = f"SELECT {', '.join(cols)} FROM {table} {where}"
        return await self._read(kind, cols, sql, tuple(params))

    async def _stream(self, kind: type[R], where: str, params: Iterable[Any]) -> AsyncIterator[R]:
        """Like ``_select``, ``STREAM_CHUNK`` rows in memory at a time."""
        table = _TABLES[kind][0]
        cols = _columns(kind)
        sql = f"SELECT {', '.join(cols)} FROM {table} {where}"
        async with self.db.execute(sql, tuple(params)) as cursor:
            while rows := await cursor.fetchmany(STREAM_CHUNK):
                for row in rows:
                    yield _decode(kind, cols, row)

    async def _latest(self, kind: type[R], partition: str, order: str, t: int) -> list[R]:
        table = _TABLES[kind][0]
        cols = _columns(kind)
        time_col = order.split(",")[0].split()[0]
        sql = (
            f"SELECT {', '.join(cols)} FROM (SELECT *, ROW_NUMBER() OVER "
            f"(PARTITION BY {partition} ORDER BY {order}) AS rn FROM {table} "
            f"WHERE {time_col} < ?) WHERE rn = 1 ORDER BY {partition}"
        )
        return await self._read(kind, cols, sql, (t,))

    async def _read(
        self, kind: type[R], cols: Sequence[str], sql: str, params: tuple[Any, ...]
    ) -> list[R]:
        """Rows of ``kind``; a row that cannot be read or decoded is a damaged journal."""
        table = _TABLES[kind][0]
        try:
            async with self.db.execute(sql, params) as cursor:
                rows = await cursor.fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            return [_decode(kind, cols, row) for row in rows]
        except (msgspec.ValidationError, orjson.JSONDecodeError, ValueError, TypeError) as exc:
            raise damaged_journal(self.path, f"a row of {table} cannot be read: {exc}") from None

    async def runs(self, start: int, end: int) -> list[RunRow]:
        """Runs alive at some time in ``[start, end)``."""
        return await self._select(
            RunRow,
            "WHERE started_at < ? AND COALESCE(stopped_at, last_seen, started_at) >= ? "
            "ORDER BY started_at",
            (end, start),
        )

    def iter_orders(self, start: int, end: int) -> AsyncIterator[OrderRow]:
        """``orders``, streamed."""
        return self._stream(
            OrderRow,
            "WHERE event_time >= ? AND event_time < ? ORDER BY event_time, id",
            (start, end),
        )

    async def orders(self, start: int, end: int) -> list[OrderRow]:
        """Order updates by event time."""
        return await self._select(
            OrderRow,
            "WHERE event_time >= ? AND event_time < ? ORDER BY event_time, id",
            (start, end),
        )

    def iter_fills(self, start: int, end: int) -> AsyncIterator[FillRow]:
        """``fills``, streamed."""
        return self._stream(
            FillRow,
            "WHERE event_time >= ? AND event_time < ? ORDER BY event_time, trade_id",
            (start, end),
        )

    async def fills(self, start: int, end: int) -> list[FillRow]:
        """Fills by event time."""
        return await self._select(
            FillRow,
            "WHERE event_time >= ? AND event_time < ? ORDER BY event_time, trade_id",
            (start, end),
        )

    async def last_trade_ids(self) -> dict[str, int]:
        """The highest trade id of the fills held, per symbol (the primary key's index)."""
        sql = "SELECT symbol, MAX(trade_id) FROM fills GROUP BY symbol"
        async with self.db.execute(sql) as cursor:
            rows = await cursor.fetchall()
        return {str(symbol): int(trade_id) for symbol, trade_id in rows}

    async def trade_cursors(self) -> TradeCursors:
        """The trade cursor per symbol, since when the journal recorded the account (its first
        run's start) and the fills held after the cursors (of a symbol without one: all)."""
        db = self.db
        async with db.execute("SELECT symbol, trade_id FROM trade_cursors") as cursor:
            cursors = {str(s): int(t) for s, t in await cursor.fetchall()}
        async with db.execute("SELECT MIN(started_at) FROM runs") as cursor:
            row = await cursor.fetchone()
        since = None if row is None or row[0] is None else int(row[0])
        sql = (
            "SELECT f.symbol, f.order_id, f.trade_id, f.qty FROM fills f "
            "LEFT JOIN trade_cursors c ON c.symbol = f.symbol "
            "WHERE c.trade_id IS NULL OR f.trade_id > c.trade_id ORDER BY f.symbol, f.trade_id"
        )
        async with db.execute(sql) as cursor:
            held = tuple(
                (str(s), int(o), int(t), Decimal(q)) for s, o, t, q in await cursor.fetchall()
            )
        return TradeCursors(cursors=cursors, since=since, held=held)

    def iter_balances(self, start: int, end: int) -> AsyncIterator[BalanceRow]:
        """``balances``, streamed."""
        return self._stream(
            BalanceRow,
            "WHERE event_time >= ? AND event_time < ? ORDER BY event_time, id",
            (start, end),
        )

    async def balances(self, start: int, end: int) -> list[BalanceRow]:
        """Balance rows by event time."""
        return await self._select(
            BalanceRow,
            "WHERE event_time >= ? AND event_time < ? ORDER BY event_time, id",
            (start, end),
        )

    async def balances_before(self, t: int) -> list[BalanceRow]:
        """The latest row per asset before ``t``."""
        return await self._latest(BalanceRow, "asset", "event_time DESC, id DESC", t)

    async def positions_before(self, t: int) -> list[PositionRow]:
        """The latest row per (symbol, side) before ``t``."""
        return await self._latest(PositionRow, "symbol, side", "event_time DESC, id DESC", t)

    async def samples(self, start: int, end: int) -> list[SampleRow]:
        """Samples with ``start <= ts <= end``."""
        return await self._select(
            SampleRow, "WHERE ts >= ? AND ts <= ? ORDER BY ts, id", (start, end)
        )

    async def reconciles(self, start: int, end: int) -> list[ReconcileRow]:
        """Reconciles whose snapshot was taken in the range (failed ones: recorded in it)."""
        found = await self._select(
            ReconcileRow,
            f"WHERE {RECONCILE_TIME} >= ? AND {RECONCILE_TIME} < ? "
            f"ORDER BY {RECONCILE_TIME}, ts, uid",
            (start, end),
        )
        if not found:
            return found
        sql = (
            "SELECT reconcile_uid, kind, key, cache_value, exchange_value, cache_time, "
            "exchange_time, repaired FROM mismatches WHERE reconcile_uid IN "
            f"({', '.join('?' * len(found))}) ORDER BY id"
        )
        by_uid: dict[str, list[MismatchRow]] = defaultdict(list)
        try:
            async with self.db.execute(sql, tuple(r.uid for r in found)) as cursor:
                rows = await cursor.fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            for row in rows:
                by_uid[row[0]].append(
                    _decode(MismatchRow, MismatchRow.__struct_fields__, tuple(row[1:]))
                )
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            raise damaged_journal(self.path, f"a row of mismatches cannot be read: {exc}") from None
        return [msgspec.structs.replace(r, mismatches=tuple(by_uid[r.uid])) for r in found]

    async def stream_states(self, start: int, end: int) -> list[StreamRow]:
        """Stream state changes in the range."""
        return await self._select(
            StreamRow, "WHERE ts >= ? AND ts < ? ORDER BY ts, id", (start, end)
        )

    async def stream_states_before(self, t: int) -> list[StreamRow]:
        """The latest state per stream before ``t``."""
        return await self._latest(StreamRow, "stream", "ts DESC, id DESC", t)

    async def degraded_periods(self, start: int, end: int) -> list[DegradedRow]:
        """Degraded mode's beginnings and ends in the range."""
        return await self._select(
            DegradedRow, "WHERE ts >= ? AND ts < ? ORDER BY ts, id", (start, end)
        )

    async def plugin_errors(self, start: int, end: int) -> list[PluginErrorRow]:
        """Plugin errors in the range."""
        return await self._select(
            PluginErrorRow, "WHERE ts >= ? AND ts < ? ORDER BY ts, id", (start, end)
        )

    async def kill_switch_trips(self, start: int, end: int) -> list[KillSwitchRow]:
        """Kill-switch trips in the range."""
        return await self._select(
            KillSwitchRow, "WHERE ts >= ? AND ts < ? ORDER BY ts, id", (start, end)
        )

    async def kill_switch_resumes(self, start: int, end: int) -> list[KillSwitchResumeRow]:
        """Kill-switch clearings in the range (by the time of the clearing)."""
        return await self._select(
            KillSwitchResumeRow, "WHERE ts >= ? AND ts < ? ORDER BY ts, id", (start, end)
        )

    async def log_stats(self, start: int, end: int) -> list[LogStatsRow]:
        """Log-stats samples with ``start <= ts <= end``."""
        return await self._select(
            LogStatsRow, "WHERE ts >= ? AND ts <= ? ORDER BY ts, id", (start, end)
        )

    async def log_stats_before(self, t: int) -> list[LogStatsRow]:
        """The latest log-stats sample per run before ``t``."""
        return await self._latest(LogStatsRow, "run_id", "ts DESC, id DESC", t)

    async def commands(self, start: int, end: int) -> list[CommandRow]:
        """Operator commands in the range, oldest first."""
        return await self._select(
            CommandRow, "WHERE ts >= ? AND ts < ? ORDER BY ts, id", (start, end)
        )

    # ------------------------------------------------------------------ state store

    async def load_states(self) -> dict[str, dict[str, Any]]:
        """Every strategy's saved state (``framework.state.StateStore``)."""
        db = await self._state_connection()
        async with db.execute("SELECT strategy_id, data FROM strategy_state") as cursor:
            rows = await cursor.fetchall()
        try:
            return {str(sid): decode_state(str(data)) for sid, data in rows}
        except msgspec.DecodeError as exc:
            raise damaged_journal(self.path, f"a strategy state cannot be read: {exc}") from None

    async def save_state(self, strategy_id: str, data: bytes, at: int) -> None:
        """Replace one strategy's state; committed when this returns."""
        db = await self._state_connection()
        try:
            await db.execute(
                "INSERT INTO strategy_state (strategy_id, data, saved_at) VALUES (?, ?, ?) "
                "ON CONFLICT (strategy_id) DO UPDATE SET data = excluded.data, "
                "saved_at = excluded.saved_at",
                (strategy_id, data.decode(), at),
            )
            await db.commit()
        except BaseException:
            await db.rollback()
            raise

    async def intent(self, strategy_id: str, intent: str) -> IntentRecord | None:
        """One recorded intent, or ``None``."""
        db = await self._state_connection()
        sql = f"SELECT {_INTENT_COLUMNS} FROM order_intents WHERE strategy_id = ? AND intent = ?"
        async with db.execute(sql, (strategy_id, intent)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _intent(row)

    async def record_intent(self, record: IntentRecord) -> None:
        """Record an intent before its order is sent; committed when this returns."""
        db = await self._state_connection()
        try:
            await db.execute(
                "INSERT INTO order_intents (client_order_id, strategy_id, intent, symbol, "
                "request, created_at, order_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.client_order_id,
                    record.strategy_id,
                    record.intent,
                    record.request.symbol,
                    msgspec.json.encode(record.request).decode(),
                    record.created_at,
                    record.order_id,
                ),
            )
            await db.commit()
        except BaseException:
            await db.rollback()
            raise

    async def acknowledge_intent(self, client_order_id: str, order_id: int | None) -> None:
        """Note the exchange's order id, or forget an order the exchange never got."""
        db = await self._state_connection()
        try:
            if order_id is None:
                await db.execute(
                    "DELETE FROM order_intents WHERE client_order_id = ?", (client_order_id,)
                )
            else:
                await db.execute(
                    "UPDATE order_intents SET order_id = ? WHERE client_order_id = ?",
                    (order_id, client_order_id),
                )
            await db.commit()
        except BaseException:
            await db.rollback()
            raise

    async def unacknowledged(self) -> list[IntentRecord]:
        """Intents whose order's outcome no run learnt."""
        db = await self._state_connection()
        sql = (
            f"SELECT {_INTENT_COLUMNS} FROM order_intents WHERE order_id IS NULL "
            "ORDER BY created_at"
        )
        async with db.execute(sql) as cursor:
            rows = await cursor.fetchall()
        return [_intent(row) for row in rows]

    async def owned_fills(self) -> list[OwnedFill]:
        """Every fill with its order's client order id: the fill's own, else the one recorded
        with the order's intent, else the one of the journal's order rows ("" if none)."""
        db = await self._state_connection()
        sql = (
            "SELECT f.symbol, f.side, f.qty, COALESCE(NULLIF(f.client_order_id, ''), "
            "(SELECT i.client_order_id FROM order_intents i "
            "WHERE i.symbol = f.symbol AND i.order_id = f.order_id), "
            "(SELECT o.client_order_id FROM orders o "
            "WHERE o.symbol = f.symbol AND o.order_id = f.order_id LIMIT 1), '') FROM fills f"
        )
        async with db.execute(sql) as cursor:
            rows = await cursor.fetchall()
        return [
            OwnedFill(symbol=str(sym), side=side, qty=Decimal(qty), client_order_id=str(cid))
            for sym, side, qty, cid in rows
        ]


_INTENT_COLUMNS = "strategy_id, intent, client_order_id, request, created_at, order_id"


def _intent(row: Sequence[Any]) -> IntentRecord:
    sid, intent, cid, request, created_at, order_id = row
    return IntentRecord(
        strategy_id=str(sid),
        intent=str(intent),
        client_order_id=str(cid),
        request=msgspec.json.decode(request, type=OrderRequest),
        created_at=int(created_at),
        order_id=None if order_id is None else int(order_id),
    )


def _mismatch_values(m: MismatchRow) -> tuple[Any, ...]:
    return tuple(_sql_value(getattr(m, c)) for c in MismatchRow.__struct_fields__)


def _decode(kind: type[R], cols: Sequence[str], row: Sequence[Any]) -> R:
    data = dict(zip(cols, row, strict=True))
    for name in _JSON_FIELDS.intersection(data):
        data[name] = orjson.loads(data[name])
    return msgspec.convert(data, kind, strict=False)


def read_only_uri(path: Path) -> str:
    """The ``file:`` URI that opens ``path`` read-only (``mode=ro``; the path percent-encoded)."""
    return f"{path.resolve().as_uri()}?mode=ro"


async def _user_version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0
