"""The journal's schema, as numbered migrations (``PRAGMA user_version`` is the version).

Never edit a released migration: append a new one. Migration ``n`` (1-based) takes a journal
from version ``n - 1`` to ``n``. The SQL is plain enough to run on PostgreSQL as well (with
``INTEGER PRIMARY KEY`` spelled ``BIGSERIAL PRIMARY KEY``).
"""

from __future__ import annotations

V1 = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started_at INTEGER NOT NULL,
    stopped_at INTEGER,
    last_seen INTEGER,
    stop_reason TEXT NOT NULL DEFAULT '',
    pid INTEGER NOT NULL DEFAULT 0,
    env TEXT NOT NULL DEFAULT ''
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    order_id INTEGER NOT NULL,
    client_order_id TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    price TEXT NOT NULL,
    orig_qty TEXT NOT NULL,
    executed_qty TEXT NOT NULL,
    avg_price TEXT NOT NULL,
    reduce_only INTEGER NOT NULL,
    event_time INTEGER NOT NULL
);
CREATE INDEX orders_event_time ON orders (event_time);
CREATE TABLE fills (
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    order_id INTEGER NOT NULL,
    trade_id INTEGER NOT NULL,
    client_order_id TEXT NOT NULL,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    qty TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    realized_pnl TEXT NOT NULL,
    is_maker INTEGER NOT NULL,
    event_time INTEGER NOT NULL,
    PRIMARY KEY (symbol, order_id, trade_id)
);
CREATE INDEX fills_event_time ON fills (event_time);
CREATE TABLE balances (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    asset TEXT NOT NULL,
    wallet_balance TEXT NOT NULL,
    cross_wallet_balance TEXT NOT NULL,
    available_balance TEXT,
    event_time INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX balances_asset_time ON balances (asset, event_time);
CREATE TABLE positions (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    amount TEXT NOT NULL,
    entry_price TEXT NOT NULL,
    unrealized_pnl TEXT NOT NULL,
    event_time INTEGER NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX positions_key_time ON positions (symbol, side, event_time);
CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    asset TEXT NOT NULL,
    wallet TEXT NOT NULL,
    unrealized TEXT NOT NULL,
    equity TEXT NOT NULL,
    marks TEXT NOT NULL
);
CREATE INDEX samples_ts ON samples (ts);
CREATE TABLE reconciles (
    uid TEXT PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    snapshot_time INTEGER NOT NULL,
    duration_s REAL NOT NULL,
    in_flight_skipped INTEGER NOT NULL,
    error TEXT NOT NULL
);
CREATE INDEX reconciles_snapshot_time ON reconciles (snapshot_time);
CREATE TABLE mismatches (
    id INTEGER PRIMARY KEY,
    reconcile_uid TEXT NOT NULL REFERENCES reconciles (uid),
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    cache_value TEXT,
    exchange_value TEXT,
    cache_time INTEGER,
    exchange_time INTEGER,
    repaired INTEGER NOT NULL
);
CREATE INDEX mismatches_reconcile ON mismatches (reconcile_uid);
CREATE TABLE stream_states (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    stream TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    needs_resync INTEGER NOT NULL
);
CREATE INDEX stream_states_ts ON stream_states (ts);
CREATE TABLE plugin_errors (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    plugin TEXT NOT NULL,
    hook TEXT NOT NULL,
    error TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    disabled INTEGER NOT NULL
);
CREATE INDEX plugin_errors_ts ON plugin_errors (ts);
CREATE TABLE log_stats (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    emitted INTEGER NOT NULL,
    suppressed INTEGER NOT NULL,
    aggregated_lines INTEGER NOT NULL,
    sink_errors INTEGER NOT NULL,
    top_suppressed TEXT NOT NULL
);
CREATE INDEX log_stats_ts ON log_stats (ts);
"""

V2 = """
CREATE TABLE degraded_periods (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    active INTEGER NOT NULL,
    reason TEXT NOT NULL,
    seconds REAL NOT NULL,
    polls INTEGER NOT NULL,
    weight INTEGER NOT NULL
);
CREATE INDEX degraded_periods_ts ON degraded_periods (ts);
"""
"""Degraded mode: one row when it begins and one when it ends (``on_degraded``)."""

V3 = """
CREATE TABLE kill_switch_trips (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    limit_name TEXT NOT NULL,
    value TEXT NOT NULL,
    threshold TEXT NOT NULL,
    asset TEXT NOT NULL,
    actions TEXT NOT NULL
);
CREATE INDEX kill_switch_trips_ts ON kill_switch_trips (ts);
"""
"""The kill switch's trips (``on_kill_switch``); ``actions`` one line each."""

V4 = """
CREATE TABLE commands (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    identity TEXT NOT NULL,
    command TEXT NOT NULL,
    args TEXT NOT NULL,
    ok INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX commands_ts ON commands (ts);
"""
"""Operator commands (remote control): who sent what, and what it did."""

V5 = """
CREATE TABLE strategy_state (
    strategy_id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    saved_at INTEGER NOT NULL
);
CREATE TABLE order_intents (
    client_order_id TEXT PRIMARY KEY,
    strategy_id TEXT NOT NULL,
    intent TEXT NOT NULL,
    symbol TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    order_id INTEGER
);
CREATE UNIQUE INDEX order_intents_intent ON order_intents (strategy_id, intent);
CREATE INDEX order_intents_order ON order_intents (symbol, order_id);
CREATE INDEX orders_order_id ON orders (symbol, order_id);
"""
"""Strategy state and order intents (restart recovery, docs/strategies.md), and the index
that finds an order's client order id for its fills."""

V6 = """
CREATE TABLE trade_cursors (
    symbol TEXT PRIMARY KEY,
    trade_id INTEGER NOT NULL,
    ts INTEGER NOT NULL
);
INSERT INTO trade_cursors (symbol, trade_id, ts)
    SELECT symbol, MAX(trade_id), MAX(ts) FROM fills GROUP BY symbol;
CREATE INDEX fills_symbol_trade ON fills (symbol, trade_id);
"""
"""The trade cursor per symbol: every trade up to it is in ``fills`` (``on_trade_cursor``,
moved only after the fills it covers were written), and the index that finds the fills held
after it. A journal from before it starts from its highest trade id held, the cursor it
answered then."""

V7 = """
CREATE TABLE kill_switch_resumes (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    by_whom TEXT NOT NULL,
    tripped_at INTEGER NOT NULL,
    limit_name TEXT NOT NULL,
    reason TEXT NOT NULL,
    UNIQUE (ts, tripped_at, limit_name)
);
CREATE INDEX kill_switch_resumes_ts ON kill_switch_resumes (ts);
"""
"""The kill switch's clearings (``on_kill_switch_resume``): when, by whom, and the trip they
cleared (its time, limit and reason); a clearing announced twice is kept once."""

MIGRATIONS: tuple[str, ...] = (V1, V2, V3, V4, V5, V6, V7)
"""Every migration in order; ``len(MIGRATIONS)`` is the schema version this code writes."""
