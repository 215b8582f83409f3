"""The report as one self-contained HTML page (``YYYY-MM-DD.html``): tables and an SVG chart."""

from __future__ import annotations

from html import escape

from . import tables
from .chart import equity_svg
from .model import Report
from .tables import Table
from .text import headline, num, stamp

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


def _table(t: Table) -> str:
    rows = t.rows if t.total is None else (*t.rows, t.total)
    if not rows:
        return '<p class="none">none</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(c)}</td>' if i in t.numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Report) -> str:
    """The whole page."""
    r = report
    eq, d, log = r.equity, r.drift, r.log
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
        _table(tables.balances(r)),
    ]
    if r.unexplained_change is not None:
        sections.append(
            f"<p>Wallet change not explained by net PnL: {num(r.unexplained_change)} "
            f"{escape(r.equity_asset)}.</p>"
        )
    sections += [
        "<h2>Trading</h2>",
        _table(tables.trading(r)),
        f"<p>Orders updated: {r.orders.orders} ("
        + escape(", ".join(f"{k} {v}" for k, v in r.orders.by_status.items()) or "none")
        + ").</p>",
        "<h2>Open positions at end of day</h2>",
        _table(tables.positions(r)),
        "<h2>Reconciliation and drift</h2>",
        f"<p>{d.reconciles} reconciles; {d.mismatches} mismatches, {d.repaired} repaired, "
        f"{d.in_flight_skipped} in-flight entries skipped.</p>",
        _table(tables.drift(r)),
        "<h2>Streams</h2>",
        _table(tables.streams(r)),
        _table(tables.stream_periods(r)),
        "<h2>Uptime</h2>",
        _table(tables.uptime(r)),
        "<h2>Plugin errors</h2>",
        _table(tables.plugin_errors(r)),
        "<h2>Logging</h2>",
    ]
    if log.sampled:
        sections += [
            f"<p>{log.emitted} lines written, {log.suppressed} suppressed, "
            f"{log.aggregated_lines} aggregated, {log.sink_errors} sink errors.</p>",
            _table(tables.most_suppressed(r)),
        ]
    else:
        sections.append('<p class="none">No log statistics were sampled.</p>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>tradeloop daily report {escape(r.day)}</title><style>{STYLE}</style></head>"
        "<body>\n" + "\n".join(sections) + "\n</body></html>\n"
    )
