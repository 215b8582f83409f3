"""The report as Markdown (``YYYY-MM-DD.md``)."""

from __future__ import annotations

from collections.abc import Sequence

from .model import EquityPoint, Report
from .text import clock, duration, fees, headline, num, stamp, stop_text


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table (``_none_`` when there are no rows)."""
    if not rows:
        return ["_none_", ""]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*out, ""]


def hourly(points: Sequence[EquityPoint]) -> list[EquityPoint]:
    """The last sample of each hour (the JSON and HTML files keep every sample)."""
    last: dict[int, EquityPoint] = {}
    for point in points:
        last[point.ts // 3_600_000] = point
    return list(last.values())


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
        *table(
            ["asset", "start of day", "end of day", "change"],
            [[b.asset, num(b.start), num(b.end), num(b.change, sign=True)] for b in r.balances],
        ),
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
    lines += ["## Trading", ""]
    rows = [
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
    if rows:
        t = r.totals
        rows.append(
            [
                "**total**",
                str(t.trades),
                "",
                "",
                "",
                num(t.notional),
                num(t.realized_pnl, sign=True),
                fees(t.fees),
            ]
        )
    lines += table(
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
        rows,
    )
    by_status = ", ".join(f"{k} {v}" for k, v in r.orders.by_status.items()) or "none"
    lines += [f"Orders updated: {r.orders.orders} ({by_status}).", ""]
    lines += ["## Open positions at end of day", ""]
    lines += table(
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
    )
    eq = r.equity
    lines += [
        "## Equity",
        "",
        f"{len(eq.points)} samples; start {num(eq.start)}, end {num(eq.end)}, "
        f"low {num(eq.low)}, high {num(eq.high)} {eq.asset}. The last sample of each hour:",
        "",
        *table(["time", "equity"], [[clock(p.ts), num(p.equity)] for p in hourly(eq.points)]),
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
        *table(
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
                for m in (i.mismatches or ())
            ]
            + [
                [clock(i.at), i.status, i.reason, "-", "-", "-", "-", i.error or "-"]
                for i in d.incidents
                if not i.mismatches
            ],
        ),
        "## Streams",
        "",
        *table(
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
        ),
        *table(
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
        "## Uptime",
        "",
        *table(
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
        "## Plugin errors",
        "",
        *table(
            ["plugin", "hook", "count", "disabled", "last error"],
            [
                [e.plugin, e.hook, str(e.count), "yes" if e.disabled else "no", e.last_error]
                for e in r.plugin_errors
            ],
        ),
        "## Logging",
        "",
    ]
    log = r.log
    if log.sampled:
        lines += [
            f"{log.emitted} lines written, {log.suppressed} suppressed by rate limiting, "
            f"{log.aggregated_lines} aggregated 'repeated' lines, {log.sink_errors} sink errors.",
            "",
            *table(
                ["most suppressed", "count"], [[k, str(v)] for k, v in log.top_suppressed.items()]
            ),
        ]
    else:
        lines += ["No log statistics were sampled (smart_logging disabled).", ""]
    return "\n".join(lines).rstrip() + "\n"
