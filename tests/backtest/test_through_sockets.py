"""``tradeloop backtest --through-sockets``: the same data through the real ``binance``
connector and the simulator on loopback, reconciliation on, with the simulator's faults."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from .helpers import backtest, results, settings_file, two_symbols

END = "2026-01-01T02:00"  # two hours: 960 ticks, both strategies trade
FAULTS = (
    "drop_user_events: 0.3, duplicate_user_events: 0.2, reorder_user_events: 0.2, "
    "delay_user_events: 0.1, rest_error_rate: 0.05, late_order_rate: 0.2, disconnect_every: 0.5"
)


def _with_sim_block(tmp_path: Path, block: str) -> None:
    path = settings_file(tmp_path)
    text = path.read_text()
    marker = "    backtest: "
    path.write_text(text.replace(marker, f"    sim: {{{block}}}\n{marker}", 1))


def _without_sockets(found: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in found.items() if k != "sockets"}


def test_without_faults_the_results_are_those_of_the_in_process_backtest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lockstep makes the sockets invisible: each tick is delivered, and the orders it started
    are answered and their events taken, before the clock moves; the simulator's engine is the
    in-process venue's, so every trade, figure and sample is the same."""
    two_symbols(tmp_path / "data")
    settings_file(tmp_path)
    assert backtest(tmp_path, "inproc", end=END) == 0
    assert backtest(tmp_path, "sockets", "--through-sockets", end=END) == 0
    inproc, sockets = results(tmp_path, "inproc"), results(tmp_path, "sockets")
    assert inproc["summary"]["trades"] > 10
    assert {t["strategy"] for t in inproc["trades"]} == {"ma_btc", "grid_eth"}
    assert _without_sockets(sockets) == inproc
    run = sockets["sockets"]
    assert run["faults"] == {}
    assert run["faults_injected"] == {}
    assert run["lost_on_the_way"] == {"ticks": 0, "rest": 0, "user_data": 0}
    assert run["drift_found"] == 0
    assert run["final_reconcile"] == "ok"
    assert run["reconciles"] >= 2  # the startup run, the periodic ones, the final one
    assert run["exchange_trades"] == run["fills_seen_by_the_bot"] == inproc["summary"]["trades"]
    assert run["trades_while_stopping"] == 0
    assert run["drift_at_end"] == []
    assert "## Through sockets" in (tmp_path / "sockets" / "report.md").read_text()
    assert "drift at the end 0" in capsys.readouterr().out


def test_a_faulted_run_finishes_with_the_report_and_no_drift(tmp_path: Path) -> None:
    """Faults from ``plugins.sim.faults`` and ``--fault``: events dropped, repeated, reordered
    and delayed, REST errors, orders shown late, connections dropped (every 0.5 s of real
    time, so as often as the machine is slow). The strategies trade less (reconciliation
    holds them while it resyncs), but the run ends with every report, the cache equal to the
    exchange, every exchange trade in the report and in the cache, and the account adding up."""
    two_symbols(tmp_path / "data")
    _with_sim_block(tmp_path, f"seed: 3, faults: {{{FAULTS}}}")
    code = backtest(
        tmp_path,
        "faulted",
        "--through-sockets",
        "--fault",
        "unknown_order_outcome_rate=0.05",
        end=END,
    )
    assert code == 0
    out = tmp_path / "faulted"
    for name in ("results.json", "report.md", "report.html", "journal.sqlite3"):
        assert (out / name).is_file(), name
    found = results(tmp_path, "faulted")
    run = found["sockets"]
    assert run["faults"]["drop_user_events"] == 0.3
    assert run["faults"]["unknown_order_outcome_rate"] == 0.05
    assert run["faults_injected"]["drop_user_events"] > 0
    assert run["final_reconcile"] in ("ok", "warning")  # warning: it found drift, and repaired it
    assert run["drift_at_end"] == []
    assert run["exchange_trades"] == run["fills_seen_by_the_bot"] > 0
    assert len(found["trades"]) == run["exchange_trades"] + run["trades_while_stopping"]
    summary = found["summary"]
    realized = sum(Decimal(t["realized_pnl"]) for t in found["trades"])
    fees = sum(Decimal(t["fee"]) for t in found["trades"])
    assert Decimal(summary["final_equity"]) == (
        Decimal("10000") + realized - fees + Decimal(summary["unrealized_pnl"])
    )


@pytest.mark.parametrize(
    ("args", "extra", "named"),
    [
        (("--through-sockets", "--fault", "bogus=1"), "", "--fault"),
        (("--through-sockets", "--fault", "drop_user_events"), "", "--fault"),
        (("--through-sockets", "--fault", "drop_user_events=2"), "", "drop_user_events"),
        (("--fault", "drop_user_events=0.1"), "", "--through-sockets"),
        (("--through-sockets",), ", slippage_bps: 5", "plugins.backtest.slippage_bps"),
        (("--through-sockets",), ", latency_ms: 100", "plugins.backtest.latency_ms"),
    ],
)
def test_bad_sockets_options_exit_2_naming_them(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    extra: str,
    named: str,
) -> None:
    two_symbols(tmp_path / "data")
    settings_file(tmp_path, extra=extra)
    assert backtest(tmp_path, "out", *args, end=END) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.json").exists()


def test_a_start_that_never_ends_its_holds_is_an_error_naming_the_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user-data stream is refused for a day of the data's clock: the startup reconcile
    never runs, so the strategies stay held and the data is not played (the bound is shortened
    from 60 s for the test)."""
    from plugins.backtest import sockets

    monkeypatch.setattr(sockets, "FINAL_WITHIN", 1.0)
    two_symbols(tmp_path / "data")
    _with_sim_block(tmp_path, "faults: {user_stream_down: 86400}")
    assert backtest(tmp_path, "out", "--through-sockets", end=END) != 0
    err = capsys.readouterr().err
    assert "the strategies were still held" in err
    assert "reconciliation" in err
    assert not (tmp_path / "out" / "results.json").exists()
