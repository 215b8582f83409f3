"""The equity chart: an inline SVG line over the whole UTC day (no script, no external file)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from .model import EquityPoint
from .text import num

WIDTH, HEIGHT = 820, 280
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 16, 34
HOURS = (0, 3, 6, 9, 12, 15, 18, 21, 24)


def equity_svg(points: Sequence[EquityPoint], start: int, end: int, asset: str) -> str:
    """An SVG line chart of ``points`` with hour ticks along the day and value gridlines."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    title = f"Equity ({asset}) over the day, {len(points)} samples"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="plot"/>',
    ]
    span = max(1, end - start)

    def x_of(ts: int) -> float:
        return LEFT + plot_w * min(max(ts - start, 0), span) / span

    for hour in HOURS:
        x = x_of(start + hour * 3_600_000)
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" class="grid"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 12}" class="tick" text-anchor="middle">'
            f"{hour:02d}:00</text>"
        )
    if not points:
        parts.append(
            f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" class="empty" '
            'text-anchor="middle">no equity samples this day</text></svg>'
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
        label = num(value.quantize(Decimal("0.01")))
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{label}</text>'
        )
    coords = " ".join(f"{x_of(p.ts):.1f},{y_of(p.equity):.1f}" for p in points)
    parts.append(f'<polyline points="{coords}" class="line"/>')
    for p in points:
        parts.append(
            f'<circle cx="{x_of(p.ts):.1f}" cy="{y_of(p.equity):.1f}" r="2.5" class="dot">'
            f"<title>{escape(num(p.equity))} {escape(asset)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)
