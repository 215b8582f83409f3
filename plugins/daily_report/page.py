"""The report as one self-contained HTML page (``YYYY-MM-DD.html``): tables and an SVG chart."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from .chart import equity_svg
from .model import Report
from .text import clock, duration, fees, headline, num, stamp, stop_text

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:960px;padding:0 1rem;color:#1d2330;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #dde2ea;padding-bottom:.25rem}
.meta{color:#5b6577;margin-top:0}
dl.headline{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dl.headline dt{font-weight:600}dl.headline dd{margin:0}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e6e9ef;padding:.3rem .5rem;text-align:left}
th{background:#f4f6fa;font-weight:600}td.n{text-align:right}
.none{color:#7a8394;font-style:italic}
.chart{max-width:100%;height:auto}.chart .plot{fill:#fbfcfe;stroke:#cfd6e1}
.chart .grid{stroke:#e3e8ef;stroke-width:1}.chart .tick{font-size:11px;fill:#5b6577}
.chart .line{fill:none;stroke:#2f6fde;stroke-width:2}.chart .dot{fill:#2f6fde}
.chart .empty{fill:#7a8394;font-size:14px}
"""


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()
) -> str:
    if not rows:
        return '<p class="none">none</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Report) -> str:
    """The whole page."""
    r = report
    t, eq, d, log = r.totals, r.equity, r.drift, r.log
    sections = [
        f"<h1>Daily report {escape(r.day)} (UTC)</h1>",
        f'<p class="meta">Generated {escape(stamp(r.generated_at))} from the journal.</p>',
        '<dl class="headline">'
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in headline(r))
        + "</dl>",
        "<h2>Equity</h2>",
        equity_svg(eq.points, r.start, r.end, eq.asset),
        f"<p>{len(eq.points)} samples; start {num(eq.start)}, end {num(eq.end)}, "
        f"low {num(eq.low)}, high {num(eq.high)} {escape(eq.asset)}.</p>",
        "<h2>Balances</h2>",
        _table(
            ["asset", "start of day", "end of day", "change"],
            [[b.asset, num(b.start), num(b.end), num(b.change, sign=True)] for b in r.balances],
            numeric=(1, 2, 3),
        ),
    ]
    if r.unexplained_change is not None:
        sections.append(
            f"<p>Wallet change not explained by net PnL: {num(r.unexplained_change)} "
            f"{escape(r.equity_asset)}.</p>"
        )
    sections += [
        "<h2>Trading</h2>",
        _table(
            [
                "symbol",
                "trades",
                "buy/sell",
                "maker/taker",
                "volume",
                "notional",
                "realized PnL",
                "fees",
            ],
            [
                [
                    s.symbol,
                    str(s.trades),
                    f"{s.buys}/{s.sells}",
                    f"{s.maker}/{s.taker}",
                    num(s.volume),
                    num(s.notional),
                    num(s.realized_pnl, sign=True),
                    fees(s.fees),
                ]
                for s in r.symbols
            ]
            + (
                [
                    [
                        "total",
                        str(t.trades),
                        "",
                        "",
                        "",
                        num(t.notional),
                        num(t.realized_pnl, sign=True),
                        fees(t.fees),
                    ]
                ]
                if r.symbols
                else []
            ),
            numeric=(1, 4, 5, 6),
        ),
        f"<p>Orders updated: {r.orders.orders} ("
        + escape(", ".join(f"{k} {v}" for k, v in r.orders.by_status.items()) or "none")
        + ").</p>",
        "<h2>Open positions at end of day</h2>",
        _table(
            ["symbol", "side", "amount", "entry", "mark", "unrealized PnL"],
            [
                [
                    p.symbol,
                    p.side,
                    num(p.amount),
                    num(p.entry_price),
                    num(p.mark),
                    num(p.unrealized_pnl),
                ]
                for p in r.positions
            ],
            numeric=(2, 3, 4, 5),
        ),
        "<h2>Reconciliation and drift</h2>",
        f"<p>{d.reconciles} reconciles; {d.mismatches} mismatches, {d.repaired} repaired, "
        f"{d.in_flight_skipped} in-flight entries skipped.</p>",
        _table(
            ["time", "status", "reason", "kind", "key", "cache", "exchange", "repaired"],
            [
                [
                    clock(i.at),
                    i.status,
                    i.reason,
                    m.kind,
                    m.key,
                    m.cache_value or "-",
                    m.exchange_value or "-",
                    "yes" if m.repaired else "no",
                ]
                for i in d.incidents
                for m in i.mismatches
            ]
            + [
                [clock(i.at), i.status, i.reason, "-", "-", "-", "-", i.error or "-"]
                for i in d.incidents
                if not i.mismatches
            ],
        ),
        "<h2>Streams</h2>",
        _table(
            ["stream", "connects", "disconnects", "stale", "resyncs", "down"],
            [
                [
                    s.stream,
                    str(s.connects),
                    str(s.disconnects),
                    str(s.stale),
                    str(s.resyncs),
                    duration(s.down_ms),
                ]
                for s in r.streams
            ],
            numeric=(1, 2, 3, 4),
        ),
        _table(
            ["stream", "state", "from", "to", "for", "reason"],
            [
                [
                    p.stream,
                    p.state,
                    clock(p.start),
                    clock(p.end),
                    duration(p.end - p.start),
                    p.reason,
                ]
                for s in r.streams
                for p in s.periods
            ],
        ),
        "<h2>Uptime</h2>",
        _table(
            ["run", "up from", "up to", "for", "stop"],
            [
                [
                    u.run_id,
                    clock(u.up_from),
                    clock(u.up_to),
                    duration(u.up_to - u.up_from),
                    stop_text(u),
                ]
                for u in r.uptime.runs
            ],
        ),
        "<h2>Plugin errors</h2>",
        _table(
            ["plugin", "hook", "count", "disabled", "last error"],
            [
                [e.plugin, e.hook, str(e.count), "yes" if e.disabled else "no", e.last_error]
                for e in r.plugin_errors
            ],
            numeric=(2,),
        ),
        "<h2>Logging</h2>",
    ]
    if log.sampled:
        sections += [
            f"<p>{log.emitted} lines written, {log.suppressed} suppressed, "
            f"{log.aggregated_lines} aggregated, {log.sink_errors} sink errors.</p>",
            _table(
                ["most suppressed", "count"],
                [[k, str(v)] for k, v in log.top_suppressed.items()],
                numeric=(1,),
            ),
        ]
    else:
        sections.append('<p class="none">No log statistics were sampled.</p>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>tradeloop daily report {escape(r.day)}</title><style>{STYLE}</style></head>"
        "<body>\n" + "\n".join(sections) + "\n</body></html>\n"
    )
