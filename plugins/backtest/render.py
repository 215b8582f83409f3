"""The backtest report as Markdown, JSON and an HTML page, and two results side by side."""

from __future__ import annotations

import html
import io
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson

HEADLINE = (
    ("starting balance", "starting_balance"),
    ("final equity", "final_equity"),
    ("PnL", "pnl"),
    ("return %", "return_pct"),
    ("max drawdown", "max_drawdown"),
    ("max drawdown %", "max_drawdown_pct"),
    ("Sharpe (daily, annualized)", "sharpe"),
    ("Sortino (daily, annualized)", "sortino"),
    ("win rate %", "win_rate_pct"),
    ("profit factor", "profit_factor"),
    ("exposure %", "exposure_pct"),
    ("trades", "trades"),
    ("fees", "fees"),
    ("realized PnL", "realized_pnl"),
    ("unrealized PnL", "unrealized_pnl"),
    ("buy and hold %", "buy_and_hold_pct"),
    ("buy and hold PnL", "buy_and_hold_pnl"),
    ("ticks", "ticks"),
)


def _v(value: Any) -> str:
    return "n/a" if value is None else str(value)


JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
TRADES = "trades"


def write_json(results: dict[str, Any], out: IO[bytes]) -> None:
    """Indented JSON, keys sorted (the same results give the same bytes). The trades (the
    last key) are written one at a time, as they are read from the trade log."""
    rest = {k: v for k, v in results.items() if k != TRADES}
    if any(k > TRADES for k in rest):
        raise ValueError(f"results keys must sort before {TRADES!r}: {sorted(rest)}")
    head = orjson.dumps(rest, option=JSON_OPTIONS)
    out.write(head[:-2] + b",\n" if rest else b"{\n")
    out.write(b'  "trades": [')
    first = True
    for trade in results[TRADES]:
        body = orjson.dumps(trade, option=JSON_OPTIONS).replace(b"\n", b"\n    ")
        out.write((b"\n    " if first else b",\n    ") + body)
        first = False
    out.write(b"]\n}\n" if first else b"\n  ]\n}\n")


def to_json(results: dict[str, Any]) -> bytes:
    """``write_json`` into bytes."""
    out = io.BytesIO()
    write_json(results, out)
    return out.getvalue()


def headline(results: dict[str, Any]) -> str:
    """The title and the headline figures, as Markdown."""
    s = results["summary"]
    period = results["period"]
    lines = [f"# Backtest {period['from']} to {period['to']}", ""]
    lines += ["| figure | value |", "|---|---|"]
    lines += [f"| {label} | {_v(s.get(key))} |" for label, key in HEADLINE]
    return "\n".join(lines) + "\n"


def write_markdown(results: dict[str, Any], out: IO[str]) -> None:
    """The report as Markdown: headline, per strategy, per symbol, gaps, every trade (written
    one at a time)."""
    out.write(headline(results))
    cols = ("trades", "realized_pnl", "fees", "net_realized_pnl", "win_rate_pct", "profit_factor")
    lines = ["", "## By strategy", "", "| strategy | " + " | ".join(cols) + " |"]
    lines.append("|---" * (len(cols) + 1) + "|")
    for sid, row in results["by_strategy"].items():
        lines.append(f"| {sid} | " + " | ".join(_v(row[c]) for c in cols) + " |")
    sym_cols = (*cols, "unrealized_pnl", "buy_and_hold_pct")
    lines += ["", "## By symbol", "", "| symbol | " + " | ".join(sym_cols) + " |"]
    lines.append("|---" * (len(sym_cols) + 1) + "|")
    for symbol, row in results["by_symbol"].items():
        lines.append(f"| {symbol} | " + " | ".join(_v(row[c]) for c in sym_cols) + " |")
    lines += ["", "## Gaps in the data", ""]
    if results["gaps"]:
        lines += ["| symbol | from | to | minutes |", "|---|---|---|---|"]
        lines += [
            f"| {g['symbol']} | {g['from']} | {g['to']} | {g['minutes']} |" for g in results["gaps"]
        ]
    else:
        lines.append("none")
    sockets = results.get("sockets")
    if sockets is not None:
        lines += ["", "## Through sockets", "", *_sockets_lines(sockets)]
    trade_cols = (
        "time",
        "strategy",
        "symbol",
        "side",
        "qty",
        "price",
        "fee",
        "realized_pnl",
        "maker",
    )
    lines += ["", f"## Trades ({len(results[TRADES])})", ""]
    lines += ["| " + " | ".join(trade_cols) + " |", "|---" * len(trade_cols) + "|"]
    out.write("\n".join(lines) + "\n")
    for t in results[TRADES]:
        out.write("| " + " | ".join(_v(t[c]) for c in trade_cols) + " |\n")


def to_markdown(results: dict[str, Any]) -> str:
    """``write_markdown`` into a string."""
    out = io.StringIO()
    write_markdown(results, out)
    return out.getvalue()


def _sockets_lines(sockets: dict[str, Any]) -> list[str]:
    """The run through the connector and the simulator: faults, losses, reconciles, drift."""

    def pairs(values: dict[str, Any]) -> str:
        return ", ".join(f"{k} {v}" for k, v in values.items()) or "none"

    lines = ["| figure | value |", "|---|---|"]
    lines += [
        f"| faults set | {pairs(sockets['faults'])} |",
        f"| faults injected | {pairs(sockets['faults_injected'])} |",
        f"| lost on the way (waited for, never taken) | {pairs(sockets['lost_on_the_way'])} |",
        f"| reconciles | {sockets['reconciles']} |",
        f"| drift found and repaired | {sockets['drift_found']} |",
        f"| final reconcile | {_v(sockets['final_reconcile'])} |",
        f"| trades: exchange / seen by the bot | {sockets['exchange_trades']} / "
        f"{sockets['fills_seen_by_the_bot']} |",
        f"| trades made while the bot stopped | {sockets['trades_while_stopping']} |",
        f"| drift at the end | {len(sockets['drift_at_end'])} |",
    ]
    lines += [f"- {line}" for line in sockets["drift_at_end"]]
    return lines


Bounds = tuple[float, float, float, float]


def _polyline(
    points: list[tuple[float, float]],
    width: int,
    height: int,
    color: str,
    bounds: Bounds | None = None,
) -> str:
    if not points:
        return ""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1, y0, y1 = bounds or (min(xs), max(xs), min(ys), max(ys))
    dx = (x1 - x0) or 1.0
    dy = (y1 - y0) or 1.0
    coords = " ".join(
        f"{(x - x0) / dx * (width - 60) + 50:.1f},{height - 20 - (y - y0) / dy * (height - 40):.1f}"
        for x, y in points
    )
    return (
        f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{coords}"/>'
        f'<text x="2" y="14" font-size="11">{y1:.6g}</text>'
        f'<text x="2" y="{height - 22}" font-size="11">{y0:.6g}</text>'
    )


def _svg(title: str, body: str, width: int = 900, height: int = 240) -> str:
    return (
        f"<h2>{html.escape(title)}</h2>"
        f'<svg width="{width}" height="{height}" style="border:1px solid #ccc">{body}</svg>'
    )


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _price_ranges(trades: Iterable[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Each symbol's lowest and highest trade price."""
    ranges: dict[str, tuple[float, float]] = {}
    for t in trades:
        price = float(t["price"])
        low, high = ranges.get(t["symbol"], (price, price))
        ranges[t["symbol"]] = (min(low, price), max(high, price))
    return ranges


def write_html(results: dict[str, Any], out: IO[str]) -> None:
    """A self-contained page: headline, equity curve, drawdown, trades on each symbol's price
    and every trade; the trades are read one at a time (once for the price ranges, once per
    symbol for its chart, once for the table)."""
    width, height = 900, 240
    trades: Iterable[dict[str, Any]] = results[TRADES]
    equity = [(_epoch(p["time"]), float(p["equity"])) for p in results["equity"]]
    drawdown = [(_epoch(p["time"]), float(p["drawdown"])) for p in results["equity"]]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Backtest</title>",
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
        "table{border-collapse:collapse}tr:nth-child(even){background:#f4f4f4}</style></head><body>",
        f"<h1>Backtest {html.escape(results['period']['from'])} to "
        f"{html.escape(results['period']['to'])}</h1><table>",
    ]
    s = results["summary"]
    parts += [
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(_v(s.get(key)))}</td></tr>"
        for label, key in HEADLINE
    ]
    parts.append("</table>")
    parts.append(_svg("Equity", _polyline(equity, width, height, "#1f77b4")))
    parts.append(_svg("Drawdown", _polyline(drawdown, width, height, "#d62728")))
    out.write("".join(parts))
    ranges = _price_ranges(trades)
    for symbol, points in results["prices"].items():
        line = [(_epoch(p["time"]), float(p["price"])) for p in points]
        title = f"{symbol}: price and trades (buy green, sell red)"
        traded = ranges.get(symbol)
        if not line or traded is None:
            out.write(_svg(title, _polyline(line, width, height, "#555")))
            continue
        xs = [x for x, _ in line]
        prices = [y for _, y in line]
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(min(prices), traded[0]), max(max(prices), traded[1])
        out.write(f"<h2>{html.escape(title)}</h2>")
        out.write(f'<svg width="{width}" height="{height}" style="border:1px solid #ccc">')
        out.write(_polyline(line, width, height, "#555", (x0, x1, y0, y1)))
        dx, dy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
        for t in trades:
            if t["symbol"] != symbol:
                continue
            x = (min(max(_epoch(t["time"]), x0), x1) - x0) / dx * (width - 60) + 50
            y = height - 20 - (float(t["price"]) - y0) / dy * (height - 40)
            color = "#2ca02c" if t["side"] == "BUY" else "#d62728"
            out.write(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>')
        out.write("</svg>")
    out.write(f"<h2>Trades ({len(results[TRADES])})</h2><table><tr>")
    cols = ("time", "strategy", "symbol", "side", "qty", "price", "fee", "realized_pnl")
    out.write("".join(f"<th>{c}</th>" for c in cols) + "</tr>")
    for t in trades:
        out.write("<tr>" + "".join(f"<td>{html.escape(_v(t[c]))}</td>" for c in cols) + "</tr>")
    out.write("</table></body></html>\n")


def to_html(results: dict[str, Any]) -> str:
    """``write_html`` into a string."""
    out = io.StringIO()
    write_html(results, out)
    return out.getvalue()


def write_reports(results: dict[str, Any], folder: Path) -> list[Path]:
    """``results.json``, ``report.md`` and ``report.html`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = [folder / "results.json", folder / "report.md", folder / "report.html"]
    with out[0].open("wb") as raw:
        write_json(results, raw)
    with out[1].open("w", encoding="utf-8") as text:
        write_markdown(results, text)
    with out[2].open("w", encoding="utf-8") as text:
        write_html(results, text)
    return out


def compare(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> str:
    """Two results' headline figures side by side, with their periods and settings."""
    rows = [
        (
            "period",
            f"{a['period']['from']} .. {a['period']['to']}",
            f"{b['period']['from']} .. {b['period']['to']}",
        )
    ]
    rows += [
        (label, _v(a["summary"].get(key)), _v(b["summary"].get(key))) for label, key in HEADLINE
    ]
    for key in sorted(set(a.get("settings", {})) | set(b.get("settings", {}))):
        va, vb = a.get("settings", {}).get(key), b.get("settings", {}).get(key)
        if va != vb:
            rows.append((f"setting {key}", _v(va), _v(vb)))
    for sid in sorted(set(a["by_strategy"]) | set(b["by_strategy"])):
        ra, rb = a["by_strategy"].get(sid, {}), b["by_strategy"].get(sid, {})
        rows.append(
            (f"{sid} net realized", _v(ra.get("net_realized_pnl")), _v(rb.get("net_realized_pnl")))
        )
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in [*rows, ("", names[0], "")])
    lines = [f"{'':<{w0}}  {names[0]:<{w1}}  {names[1]}"]
    lines += [f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}" for r in rows]
    return "\n".join(lines) + "\n"
