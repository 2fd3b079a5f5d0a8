"""A bar-and-line chart as plain geometry, drawn by a template as inline SVG.

No JavaScript and no chart library: the report's periods become bars (messages, left
axis) and a line (cost, right axis). The numbers here are the few report rows, never
recipient rows.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from sender.formats import money
from sender.web.reports import ReportRow

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 72, 14, 34
TICKS = 5  # with ceilings of 1, 2, 2.5 or 5 × 10ⁿ every tick is a round number
MAX_LABELS = 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    cx: float
    cost_y: float
    label: str
    show_label: bool
    messages: int
    cost: str


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above `value`, so the axis ticks read well
    (n may be negative: a report of a few cents still fills the chart)."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value * (1 - 1e-9):
            return float(Decimal(str(step)) * Decimal(str(magnitude)))
    return 10 * magnitude


def chart(rows: list[ReportRow]) -> dict:
    """Geometry for `templates/sender/_chart.html`; rows are ungrouped, gaps filled, oldest first."""
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    max_messages = nice_ceiling(max(max((row.messages for row in rows), default=0), TICKS))  # whole ticks
    max_cost = nice_ceiling(float(max((row.cost for row in rows), default=Decimal(0))))
    slot = inner_w / max(len(rows), 1)
    every = -(-len(rows) // MAX_LABELS) or 1  # label at most MAX_LABELS periods
    bars = []
    for i, row in enumerate(rows):
        height = inner_h * row.messages / max_messages
        x = LEFT + i * slot
        bars.append(Bar(
            x=round(x + slot * 0.15, 1), y=round(TOP + inner_h - height, 1), width=round(slot * 0.7, 1),
            height=round(height, 1), cx=round(x + slot / 2, 1),
            cost_y=round(TOP + inner_h - inner_h * float(row.cost) / max_cost, 1),
            label=row.period.label, show_label=i % every == 0, messages=row.messages, cost=money(row.cost),
        ))
    ticks = [
        {"y": round(TOP + inner_h - inner_h * k / TICKS, 1),
         "messages": _count(max_messages * k / TICKS), "cost": money(Decimal(str(max_cost * k / TICKS)))}
        for k in range(TICKS + 1)
    ]
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
        "bottom": TOP + inner_h, "label_y": HEIGHT - 10, "bars": bars, "ticks": ticks,
        "line": " ".join(f"{bar.cx},{bar.cost_y}" for bar in bars),
    }


def _count(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
