"""The equity chart: an inline SVG line over the time the bot ran (no script, no external file)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from html import escape

from framework.money import money

from .model import Report
from .text import plural

WIDTH, HEIGHT = 820, 280
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 16, 34
HOUR = 3_600_000
STEPS_H = (1, 2, 3, 6, 12, 24, 48, 72, 168, 336, 720)
MAX_TICKS = 9


def time_span(report: Report) -> tuple[int, int]:
    """From the first time the bot was up (or sampled) in the period to the last."""
    points = report.equity.points
    starts = [u.up_from for u in report.uptime.runs] + [p.ts for p in points[:1]]
    ends = [u.up_to for u in report.uptime.runs] + [p.ts for p in points[-1:]]
    if not starts:
        return report.start, report.end
    first, last = min(starts), max(ends)
    return first, max(last, first + 60_000)


def ticks(start: int, end: int) -> list[tuple[int, str]]:
    """Times on whole hours (or days) across ``[start, end]``, at most ``MAX_TICKS``."""
    step_h = next((h for h in STEPS_H if (end - start) / (h * HOUR) <= MAX_TICKS - 1), STEPS_H[-1])
    step = step_h * HOUR
    multi_day = end - start > 86_400_000
    fmt = "%m-%d" if step_h >= 24 else ("%m-%d %H:%M" if multi_day else "%H:%M")
    first = -(-start // step) * step
    return [
        (t, datetime.fromtimestamp(t / 1000, UTC).strftime(fmt))
        for t in range(first, end + 1, step)
    ]


def equity_svg(report: Report, asset: str) -> str:
    """An SVG line chart of the report's equity with time ticks and value gridlines."""
    points = report.equity.points
    start, end = time_span(report)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    title = f"Equity ({asset}) while the bot ran, {plural(len(points), 'sample')}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="plot"/>',
    ]
    span = max(1, end - start)

    def x_of(ts: int) -> float:
        return LEFT + plot_w * min(max(ts - start, 0), span) / span

    for at, label in ticks(start, end):
        x = x_of(at)
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" class="grid"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 12}" class="tick" text-anchor="middle">{label}</text>'
        )
    if not points:
        parts.append(
            f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" class="empty" '
            'text-anchor="middle">no equity samples in this period</text></svg>'
        )
        return "".join(parts)
    low = min(p.equity for p in points)
    high = max(p.equity for p in points)
    pad = (high - low) * Decimal("0.1") or max(abs(high) * Decimal("0.001"), Decimal(1))
    lo, hi = low - pad, high + pad

    def y_of(value: Decimal) -> float:
        return TOP + plot_h * float((hi - value) / (hi - lo))

    for i in range(5):
        value = lo + (hi - lo) * i / 4
        y = y_of(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" class="grid"/>'
        )
        label = money(value, asset)
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{label}</text>'
        )
    coords = " ".join(f"{x_of(p.ts):.1f},{y_of(p.equity):.1f}" for p in points)
    parts.append(f'<polyline points="{coords}" class="line"/>')
    for p in points:
        parts.append(
            f'<circle cx="{x_of(p.ts):.1f}" cy="{y_of(p.equity):.1f}" r="2.5" class="dot">'
            f"<title>{escape(money(p.equity, asset))} {escape(asset)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)
