"""Restart proof: SIGKILL at random moments while two strategies trade, then start again.

Real processes: a standalone ``tradeloop sim`` (its account outlives every bot) and a
``tradeloop run`` that is killed with SIGKILL ``KILLS`` times at seeded random moments (while
starting, or at a random delay after it recorded a new order intent), then started once more
and stopped gracefully. The two ``tests/recovery/restarter.py`` instances number their
intents and write the number into each order's price, so the exchange's own order list shows
how many orders every intent made. Then, from the exchange:

* no intent made two orders (``doubles == 0``), and every intent an instance saved as done
  has its order;
* every open order found at a start was adopted by the instance that placed it (the bot's log
  names the owner and count; the final run's summary equals the exchange's open orders);
* every trade the exchange lists for the account, made until the final run was asked to stop,
  is in the journal (none lost to a kill), and the positions the final run attributes to each
  instance equal the journaled trades summed per owner of their orders' client order ids,
  and with the trades made after that stop, the account's position.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml

from plugins.binance.ids import ClientOrderIds
from plugins.sim.auth import sign
from plugins.sim.config import DEMO_API_KEY, DEMO_API_SECRET
from tests.support import TRADELOOP, clean_env

from .restarter import intent_of

SEED = 20261203
KILLS = 20
SYMBOL = "BTCUSDT"
TICK = Decimal("0.1")
# The second id is longer than an id's owner part: its client order ids carry a hash of it.
STRATEGIES = ("alpha", "beta_with_a_long_instance_id")
FIRST_ORDER_ID = 4_100_000_001  # the simulator's first order id
RESTARTER = Path(__file__).with_name("restarter.py")


@contextmanager
def standalone_sim(folder: Path) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """``tradeloop sim`` in ``folder``: the process, its REST and WebSocket URLs."""
    folder.mkdir()
    settings = {
        "default": {
            "exchange": {"symbols": [SYMBOL]},
            "plugins": {
                "sim": {
                    "seed": SEED,
                    "symbols": [SYMBOL],
                    "persist": False,
                    "updates_per_second": 5,
                    "weight_limit_1m": 1_000_000,
                    "order_limit_10s": 100_000,
                    "order_limit_1m": 1_000_000,
                },
                "smart_logging": {"enabled": False},
            },
        }
    }
    (folder / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    proc = subprocess.Popen(
        [str(TRADELOOP), "sim"],
        cwd=folder,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.match(r"tradeloop sim: rest=(\S+) ws=(\S+) ", line)
        assert found is not None, line
        yield proc, found.group(1), found.group(2)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def write_bot_settings(folder: Path, rest: str, ws: str) -> None:
    folder.mkdir()
    shutil.copy(RESTARTER, folder / "restarter.py")
    settings = {
        "default": {
            "exchange": {"name": "sim", "rest_url": rest, "stream_url": ws, "symbols": [SYMBOL]},
            "plugins": {
                "status": {"enabled": False},
                "daily_report": {"enabled": False},
                "binance": {"reconnect_base": 0.05, "reconnect_cap": 0.5},
                "reconciliation": {"confirm_delay": 0.5},
                "journal": {"flush_interval": 0.1},
            },
            "strategies": [
                {
                    "id": sid,
                    "use": "restarter:Restarter",
                    "params": {"symbol": SYMBOL, "every": 0.02},
                }
                for sid in STRATEGIES
            ],
        }
    }
    (folder / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")


def start_bot(folder: Path, run: int, *, summary: bool = False) -> subprocess.Popen[str]:
    args = [str(TRADELOOP), "run"] + (["--summary", "summary.json"] if summary else [])
    log = (folder / f"run-{run:02d}.log").open("w", encoding="utf-8")
    try:
        return subprocess.Popen(
            args, cwd=folder, env=clean_env(), stdout=subprocess.DEVNULL, stderr=log, text=True
        )
    finally:
        log.close()


def newest_intent_ms(journal: Path) -> int:
    """When the newest order intent was recorded (0 before there is one)."""
    if not journal.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT MAX(created_at) FROM order_intents").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0] or 0)


def wait_trading(proc: subprocess.Popen[str], journal: Path, since_ms: int, log: Path) -> None:
    """Until the bot records an order intent after ``since_ms``."""
    deadline = time.monotonic() + 60
    while newest_intent_ms(journal) <= since_ms:
        assert proc.poll() is None, log.read_text(encoding="utf-8")[-3000:]
        assert time.monotonic() < deadline, "the bot did not trade"
        time.sleep(0.05)


class Exchange:
    """Signed read-only calls to the standalone simulator."""

    def __init__(self, rest: str) -> None:
        self.rest = rest

    def get(self, path: str, **params: Any) -> tuple[int, Any]:
        params["timestamp"] = int(time.time() * 1000)
        text = urlencode({k: str(v) for k, v in params.items()})
        text += "&signature=" + sign(DEMO_API_SECRET, text)
        request = urllib.request.Request(
            f"{self.rest}{path}?{text}", headers={"X-MBX-APIKEY": DEMO_API_KEY}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def every_order(self) -> list[dict[str, Any]]:
        """Every order the exchange has on SYMBOL, by order id until 50 ids in a row miss."""
        found: list[dict[str, Any]] = []
        order_id, misses = FIRST_ORDER_ID, 0
        while misses < 50:
            status, body = self.get("/fapi/v1/order", symbol=SYMBOL, orderId=order_id)
            if status == 200:
                found.append(body)
                misses = 0
            else:
                misses += 1
            order_id += 1
        return found

    def trades(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        from_id = 0
        while True:
            status, page = self.get(
                "/fapi/v1/userTrades", symbol=SYMBOL, fromId=from_id, limit=1000
            )
            assert status == 200, page
            out.extend(page)
            if len(page) < 1000:
                return out
            from_id = max(t["id"] for t in page) + 1

    def open_orders(self) -> list[dict[str, Any]]:
        status, body = self.get("/fapi/v1/openOrders", symbol=SYMBOL)
        assert status == 200, body
        return list(body)

    def position(self) -> Decimal:
        status, body = self.get("/fapi/v3/positionRisk", symbol=SYMBOL)
        assert status == 200, body
        return sum((Decimal(p["positionAmt"]) for p in body), Decimal(0))


def owners() -> ClientOrderIds:
    ids = ClientOrderIds()
    for sid in STRATEGIES:
        ids.tag(sid)
    return ids


ADOPTED = re.compile(r"open orders adopted at start: (.*)$")
# What the core logs when it settles an order an earlier run sent without the answer.
SETTLED = {
    "not_sent_again": re.compile(r"intent '.*' was placed before as .*: not sent again"),
    "sent_after_never_arriving": re.compile(r"intent '.*' never reached the exchange: sending"),
    "found_at_start": re.compile(r"of strategy '.*' \(intent .*\) found on the exchange"),
    "never_arrived_at_start": re.compile(r"of strategy '.*' \(intent .*\) never reached"),
}


def settled_in(log: Path) -> Counter[str]:
    """How the run settled orders of earlier runs, from its log."""
    text = log.read_text(encoding="utf-8")
    return Counter({name: len(pattern.findall(text)) for name, pattern in SETTLED.items()})


def adopted_in(log: Path) -> Counter[str]:
    """What the run's log says it adopted at start, per owner."""
    out: Counter[str] = Counter()
    for line in log.read_text(encoding="utf-8").splitlines():
        found = ADOPTED.search(line)
        if found:
            for part in found.group(1).split(", "):
                owner, count = part.rsplit(" ", 1)
                out[owner] += int(count)
    return out


@pytest.mark.timeout(600)  # 21 bot processes: about 100 s idle, over 120 s on busy cores
def test_sigkill_at_random_moments_never_doubles_an_intent(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    ids = owners()
    journal = tmp_path / "bot" / "data" / "journal-sim.sqlite3"
    with standalone_sim(tmp_path / "sim") as (sim, rest, ws):
        write_bot_settings(tmp_path / "bot", rest, ws)
        exchange = Exchange(rest)
        logged_adopted: Counter[str] = Counter()
        settled: Counter[str] = Counter()
        kills_early = kills_trading = 0
        stopping_ms = 0  # when the final run was asked to stop
        for run in range(KILLS + 1):
            open_before = Counter(
                ids.owner_of(o["clientOrderId"]) or "-" for o in exchange.open_orders()
            )
            final = run == KILLS
            since = newest_intent_ms(journal)
            log = tmp_path / "bot" / f"run-{run:02d}.log"
            proc = start_bot(tmp_path / "bot", run, summary=final)
            try:
                if not final and rng.random() < 0.25:  # a kill while it starts
                    time.sleep(rng.uniform(0.2, 2.5))
                    kills_early += 1
                else:
                    wait_trading(proc, journal, since, log)
                    if final:
                        time.sleep(2.0)
                        stopping_ms = int(time.time() * 1000)
                        proc.send_signal(signal.SIGTERM)
                        assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
                    else:
                        time.sleep(rng.uniform(0.0, 0.6))
                        kills_trading += 1
                if not final:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            settled.update(settled_in(log))
            seen = adopted_in(log)
            if seen:  # the run got as far as adopting: it saw every order open before it
                logged_adopted.update(seen)
                assert seen == open_before, (run, seen, open_before)
        summary = json.loads((tmp_path / "bot" / "summary.json").read_text())
        orders = exchange.every_order()
        trades = exchange.trades()
        position = exchange.position()
        still_open = exchange.open_orders()
    assert sim.poll() is not None  # the simulator was stopped with the test

    by_intent: Counter[tuple[str, int]] = Counter()
    owner_of_order: dict[int, str] = {}
    for order in orders:
        owner = ids.owner_of(order["clientOrderId"]) or "-"
        owner_of_order[order["orderId"]] = owner
        by_intent[(owner, intent_of(Decimal(order["price"]), TICK))] += 1
    doubles = {key: n for key, n in by_intent.items() if n > 1}
    assert doubles == {}
    cids = Counter(o["clientOrderId"] for o in orders)
    assert [c for c, n in cids.items() if n > 1] == []
    assert "-" not in {owner for owner, _ in by_intent}

    with sqlite3.connect(journal) as db:
        states = {
            sid: json.loads(data)
            for sid, data in db.execute("SELECT strategy_id, data FROM strategy_state")
        }
        held = {int(t) for (t,) in db.execute("SELECT trade_id FROM fills")}
    intents = 0
    for sid in STRATEGIES:
        done = int(states[sid]["next"])
        made = {n for owner, n in by_intent if owner == sid}
        # every intent saved as done has its order; the last may be sent but not yet saved
        assert set(range(done)) <= made <= set(range(done + 1)), sid
        intents += len(made)

    # Every trade made until the final run was asked to stop is in the journal: a fill a
    # SIGKILL cut off before it was written is read back at the next start (from the journal's
    # trade cursor). Only a trade of a resting order that filled after that (the simulator's
    # prices keep moving) may be missing: no bot ran to record it, the next start would.
    assert stopping_ms
    missing = [t for t in trades if t["id"] not in held]
    assert [t["id"] for t in missing if t["time"] < stopping_ms] == []
    assert held <= {t["id"] for t in trades}
    attributed: dict[str, Decimal] = {}
    for t in trades:
        owner = owner_of_order.get(t["orderId"], "-")
        signed = Decimal(t["qty"]) * (1 if t["side"] == "BUY" else -1)
        if t["id"] in held:  # every journaled fill is attributed to the instance that made it
            attributed[owner] = attributed.get(owner, Decimal(0)) + signed
    assert "-" not in attributed
    reported = summary["recovery"]["attribution"]["by_owner"]
    assert {o: Decimal(v[SYMBOL]) for o, v in reported.items()} == {
        o: a for o, a in attributed.items() if a
    }
    late = sum((Decimal(t["qty"]) * (1 if t["side"] == "BUY" else -1) for t in missing), Decimal(0))
    assert sum(attributed.values(), Decimal(0)) + late == position
    assert summary["recovery"]["attribution"]["fills"] == len(held)
    for sid in STRATEGIES:  # each instance saw its adopted orders: it kept trimming them
        assert sum(1 for o in still_open if ids.owner_of(o["clientOrderId"]) == sid) <= 4

    figures = {
        "kills": kills_early + kills_trading,
        "kills_while_starting": kills_early,
        "kills_while_trading": kills_trading,
        "intents": intents,
        "orders": len(orders),
        "doubles": len(doubles),
        "adopted": sum(logged_adopted.values()),
        "adopted_by_owner": dict(logged_adopted),
        "fills": len(trades),
        "fills_journaled": len(held),
        "fills_missing_from_journal": len(missing),
        "fills_after_the_final_stop": sum(1 for t in missing if t["time"] >= stopping_ms),
        "positions": {o: str(a) for o, a in attributed.items()},
        **{name: settled[name] for name in SETTLED},
    }
    print("PROOF restart:", json.dumps(figures, sort_keys=True))
