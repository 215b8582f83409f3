"""The report as Markdown (``YYYY-MM-DD.md``)."""

from __future__ import annotations

from . import tables
from .model import Report
from .tables import Table
from .text import clock, headline, num, stamp


def table(t: Table) -> list[str]:
    """A Markdown table (``_none_`` when there are no rows); a total row in bold."""
    rows = list(t.rows)
    if t.total is not None:
        rows.append((f"**{t.total[0]}**", *t.total[1:]))
    if not rows:
        return ["_none_", ""]
    out = ["| " + " | ".join(t.header) + " |", "|" + "---|" * len(t.header)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*out, ""]


def render_markdown(report: Report) -> str:
    """Every section of the report as Markdown."""
    r = report
    lines = [
        f"# Daily report {r.day} (UTC)",
        "",
        f"Generated {stamp(r.generated_at)} from the journal.",
        "",
        *[f"- **{label}:** {value}" for label, value in headline(r)],
        "",
        "## Balances",
        "",
        *table(tables.balances(r)),
    ]
    late = [b for b in r.balances if b.start_at is not None and b.start_at >= r.start]
    if late:
        lines += [
            "Start figures first seen during the day: "
            + ", ".join(f"{b.asset} at {clock(b.start_at)}" for b in late)
            + ".",
            "",
        ]
    if r.unexplained_change is not None:
        lines += [
            f"Wallet change not explained by net PnL: {num(r.unexplained_change)} "
            f"{r.equity_asset} (non-zero means transfers, funding or missed fills).",
            "",
        ]
    lines += ["## Trading", "", *table(tables.trading(r))]
    by_status = ", ".join(f"{k} {v}" for k, v in r.orders.by_status.items()) or "none"
    lines += [f"Orders updated: {r.orders.orders} ({by_status}).", ""]
    lines += ["## Open positions at end of day", "", *table(tables.positions(r))]
    eq = r.equity
    lines += [
        "## Equity",
        "",
        f"{len(eq.points)} samples; start {num(eq.start)}, end {num(eq.end)}, "
        f"low {num(eq.low)}, high {num(eq.high)} {eq.asset}. The last sample of each hour:",
        "",
        *table(tables.equity_hourly(r)),
    ]
    d = r.drift
    statuses = ", ".join(f"{k} {v}" for k, v in d.by_status.items()) or "none"
    lines += [
        "## Reconciliation and drift",
        "",
        f"{d.reconciles} reconciles ({statuses}); "
        f"{d.mismatches} mismatches, {d.repaired} repaired, {d.in_flight_skipped} in-flight "
        "entries skipped.",
        "",
        *table(tables.drift(r)),
        "## Streams",
        "",
        *table(tables.streams(r)),
        *table(tables.stream_periods(r)),
        "## Uptime",
        "",
        *table(tables.uptime(r)),
        "## Plugin errors",
        "",
        *table(tables.plugin_errors(r)),
        "## Logging",
        "",
    ]
    log = r.log
    if log.sampled:
        lines += [
            f"{log.emitted} lines written, {log.suppressed} suppressed by rate limiting, "
            f"{log.aggregated_lines} aggregated 'repeated' lines, {log.sink_errors} sink errors.",
            "",
            *table(tables.most_suppressed(r)),
        ]
    else:
        lines += ["No log statistics were sampled (smart_logging disabled).", ""]
    return "\n".join(lines).rstrip() + "\n"
