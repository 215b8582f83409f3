"""The report as one self-contained HTML page (``<day>.html``): tables and an SVG chart.

The trader's sections come first (headline, strategies, symbols, positions, trades, equity),
the operator's below (reconciliation, streams, uptime, plugin errors, logging).
"""

from __future__ import annotations

from html import escape

from framework.money import money

from . import tables
from .chart import equity_svg
from .model import Report
from .tables import Table
from .text import day_clock, headline, operations, plural, stamp, title

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1040px;padding:0 1rem;color:#1d2330;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #dde2ea;padding-bottom:.25rem}h3{font-size:1rem;margin-top:1.4rem}
.meta{color:#5b6577;margin-top:0}
dl.headline{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dl.headline dt{font-weight:600}dl.headline dd{margin:0;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e6e9ef;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6fa;font-weight:600;white-space:nowrap}td.n,th.n{text-align:right}
td.n{white-space:nowrap}td{overflow-wrap:break-word}
tr.total td{font-weight:600;border-top:2px solid #cfd6e1}
.pos{color:#11803d}.neg{color:#c0262d}
.none{color:#7a8394;font-style:italic}.note{color:#5b6577}
.ops{margin-top:3rem;border-top:3px double #dde2ea}
.chart{width:100%;height:auto}.chart .plot{fill:#fbfcfe;stroke:#cfd6e1}
.chart .grid{stroke:#e3e8ef;stroke-width:1}.chart .tick{font-size:11px;fill:#5b6577}
.chart .line{fill:none;stroke:#2f6fde;stroke-width:2}.chart .dot{fill:#2f6fde}
.chart .empty{fill:#7a8394;font-size:14px}
"""


def tone(text: str) -> str:
    """``pos`` for a gain (``+...``), ``neg`` for a loss (``-...``), else nothing."""
    if text.startswith("+"):
        return " pos"
    if text.startswith(("-", "\u2212")) and text != "-":
        return " neg"
    return ""


def value_tone(text: str) -> str:
    """The tone of a headline value: its sign, else the sign of its part in parentheses."""
    found = tone(text)
    if not found and "(" in text:
        found = tone(text.split("(", 1)[1])
    return found.strip()


def _cell(t: Table, i: int, text: str) -> str:
    classes = ("n" if i in t.numeric else "") + (tone(text) if i in t.pnl else "")
    attr = f' class="{classes.strip()}"' if classes.strip() else ""
    return f"<td{attr}>{escape(text)}</td>"


def _table(t: Table) -> str:
    if not t.rows and t.total is None:
        return '<p class="none">none</p>'
    head = "".join(
        f'<th class="n">{escape(h)}</th>' if i in t.numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(t.header)
    )
    body = "".join(
        "<tr>" + "".join(_cell(t, i, c) for i, c in enumerate(row)) + "</tr>" for row in t.rows
    )
    if t.total is not None:
        body += (
            '<tr class="total">' + "".join(_cell(t, i, c) for i, c in enumerate(t.total)) + "</tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _dl(items: list[tuple[str, str]]) -> str:
    return (
        '<dl class="headline">'
        + "".join(
            f'<dt>{escape(k)}</dt><dd class="{value_tone(v)}">{escape(v)}</dd>' for k, v in items
        )
        + "</dl>"
    )


def render_html(report: Report) -> str:
    """The whole page."""
    r = report
    a = r.equity_asset
    eq, d, log = r.equity, r.drift, r.log
    sections = [
        f"<h1>{escape(title(r))}</h1>",
        f'<p class="meta">Generated {escape(stamp(r.generated_at))} from the journal.</p>',
        _dl(headline(r)),
        "<h2>Equity</h2>",
        equity_svg(r, a),
        f"<p>{plural(len(eq.points), 'sample')}; start {money(eq.start, a)}, end "
        f"{money(eq.end, a)}, low {money(eq.low, a)}, high {money(eq.high, a)} {escape(a)}.</p>",
        "<h2>By strategy</h2>",
        _table(tables.strategies(r)),
        "<h2>By symbol</h2>",
        _table(tables.trading(r)),
        "<h2>Open positions at the end</h2>",
        _table(tables.positions(r)),
        "<h2>Trades</h2>",
        _table(tables.trades(r)),
    ]
    note = tables.trades_note(r)
    if note:
        sections.append(f'<p class="note">{escape(note.replace("`", ""))}</p>')
    sections.append(
        f"<p>{plural(r.orders.orders, 'order')} updated ("
        + escape(", ".join(f"{k} {v}" for k, v in r.orders.by_status.items()) or "none")
        + ").</p>"
    )
    sections += ["<h2>Balances</h2>", _table(tables.balances(r))]
    late = [b for b in r.balances if b.start_at is not None and b.start_at >= r.start]
    if late:
        sections.append(
            '<p class="note">Start figures first seen during the period: '
            + escape(
                ", ".join(f"{b.asset} at {day_clock(b.start_at, r.start, r.end)}" for b in late)
            )
            + ".</p>"
        )
    if r.unexplained_change:
        sections.append(
            "<p>Wallet change not explained by net PnL: "
            f"{money(r.unexplained_change, a, sign=True)} {escape(a)} (transfers, funding or "
            "fills the journal missed).</p>"
        )
    statuses = ", ".join(f"{k} {v}" for k, v in d.by_status.items()) or "none"
    sections += [
        '<section class="ops">',
        "<h2>Operations</h2>",
        _dl(operations(r)),
        "<h3>Reconciliation and drift</h3>",
        f"<p>{plural(d.reconciles, 'reconcile')} ({escape(statuses)}); "
        f"{plural(d.mismatches, 'mismatch', 'mismatches')}, {d.repaired} repaired, "
        f"{plural(d.in_flight_skipped, 'in-flight entry', 'in-flight entries')} skipped.</p>",
        _table(tables.drift(r)),
        _table(tables.failed_reconciles(r)) if tables.failed_reconciles(r).rows else "",
        "<h3>Streams</h3>",
        _table(tables.streams(r)),
        _table(tables.stream_periods(r)),
        "<h3>Uptime</h3>",
        _table(tables.uptime(r)),
        "<h3>Plugin errors</h3>",
        _table(tables.plugin_errors(r)),
        *(["<h3>Kill switch</h3>", _table(tables.kill_switch(r))] if r.kill_switch else []),
        "<h3>Logging</h3>",
    ]
    if log.sampled:
        sections += [
            f"<p>{plural(log.emitted, 'line')} written, {log.suppressed} suppressed, "
            f"{log.aggregated_lines} aggregated, {plural(log.sink_errors, 'sink error')}.</p>",
            _table(tables.most_suppressed(r)),
        ]
    else:
        sections.append('<p class="none">No log statistics were sampled.</p>')
    sections.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>tradeloop {escape(title(r))}</title><style>{STYLE}</style></head>"
        "<body>\n" + "\n".join(sections) + "\n</body></html>\n"
    )
