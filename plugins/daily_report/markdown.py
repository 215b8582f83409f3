"""The report as Markdown (``<day>.md``): the trader's sections first, the operator's below."""

from __future__ import annotations

from framework.money import money

from . import tables
from .model import Report
from .tables import Table
from .text import day_clock, headline, operations, plural, stamp, title


def table(t: Table) -> list[str]:
    """A Markdown table (``_none_`` when there are no rows); numeric columns right-aligned,
    a total row in bold."""
    rows = list(t.rows)
    if t.total is not None:
        rows.append((f"**{t.total[0]}**", *t.total[1:]))
    if not rows:
        return ["_none_", ""]
    rule = "|" + "".join("---:|" if i in t.numeric else "---|" for i in range(len(t.header)))
    out = ["| " + " | ".join(t.header) + " |", rule]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*out, ""]


def render_markdown(report: Report) -> str:
    """Every section of the report as Markdown."""
    r = report
    a = r.equity_asset
    lines = [
        f"# {title(r)}",
        "",
        f"Generated {stamp(r.generated_at)} from the journal.",
        "",
        *[f"- **{label}:** {value}" for label, value in headline(r)],
        "",
        "## By strategy",
        "",
        *table(tables.strategies(r)),
        "## By symbol",
        "",
        *table(tables.trading(r)),
        "## Open positions at the end",
        "",
        *table(tables.positions(r)),
        "## Trades",
        "",
        *table(tables.trades(r)),
    ]
    note = tables.trades_note(r)
    if note:
        lines += [note, ""]
    by_status = ", ".join(f"{k} {v}" for k, v in r.orders.by_status.items()) or "none"
    lines += [f"{plural(r.orders.orders, 'order')} updated ({by_status}).", ""]
    lines += ["## Balances", "", *table(tables.balances(r))]
    late = [b for b in r.balances if b.start_at is not None and b.start_at >= r.start]
    if late:
        lines += [
            "Start figures first seen during the period: "
            + ", ".join(f"{b.asset} at {day_clock(b.start_at, r.start, r.end)}" for b in late)
            + ".",
            "",
        ]
    if r.unexplained_change:
        lines += [
            f"Wallet change not explained by net PnL: {money(r.unexplained_change, a, sign=True)} "
            f"{a} (transfers, funding or fills the journal missed).",
            "",
        ]
    eq = r.equity
    lines += [
        "## Equity",
        "",
        f"{plural(len(eq.points), 'sample')}; start {money(eq.start, a)}, end {money(eq.end, a)}, "
        f"low {money(eq.low, a)}, high {money(eq.high, a)} {a}. "
        f"The last sample of each {tables.bucket(r)[1]}:",
        "",
        *table(tables.equity_hourly(r)),
        "## Operations",
        "",
        *[f"- **{label}:** {value}" for label, value in operations(r)],
        "",
    ]
    d = r.drift
    statuses = ", ".join(f"{k} {v}" for k, v in d.by_status.items()) or "none"
    lines += [
        "### Reconciliation and drift",
        "",
        f"{plural(d.reconciles, 'reconcile')} ({statuses}); "
        f"{plural(d.mismatches, 'mismatch', 'mismatches')}, {d.repaired} repaired, "
        f"{plural(d.in_flight_skipped, 'in-flight entry', 'in-flight entries')} skipped.",
        "",
        *table(tables.drift(r)),
        *(table(tables.failed_reconciles(r)) if tables.failed_reconciles(r).rows else []),
        "### Streams",
        "",
        *table(tables.streams(r)),
        *table(tables.stream_periods(r)),
        "### Uptime",
        "",
        *table(tables.uptime(r)),
        "### Plugin errors",
        "",
        *table(tables.plugin_errors(r)),
        *(["### Kill switch", "", *table(tables.kill_switch(r))] if r.kill_switch else []),
        "### Logging",
        "",
    ]
    log = r.log
    if log.sampled:
        lines += [
            f"{plural(log.emitted, 'line')} written, {log.suppressed} suppressed by rate "
            f"limiting, {plural(log.aggregated_lines, 'aggregated repeat line')}, "
            f"{plural(log.sink_errors, 'sink error')}.",
            "",
            *table(tables.most_suppressed(r)),
        ]
    else:
        lines += ["No log statistics were sampled (smart_logging disabled).", ""]
    return "\n".join(lines).rstrip() + "\n"
