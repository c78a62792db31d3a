"""Geometry for the server-drawn SVG charts; the templates turn it into markup (escaped).

Charts are plain inline SVG so the pages need no chart library and no network, and every
label passes through Jinja's autoescaping like any other text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    start: float
    label: str


@dataclass(frozen=True)
class TrustCurve:
    width: int
    height: int
    pad: int
    customer: str  # SVG polyline points
    agent: str
    customer_dots: tuple[Marker, ...]
    signals: tuple[Marker, ...]
    zero_y: float
    ticks: tuple[tuple[float, str], ...] = field(default_factory=tuple)  # (x, label)

    @property
    def empty(self) -> bool:
        return not self.customer and not self.agent


def _mmss(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def trust_curve(turns: list[dict[str, Any]], signals: list[dict[str, Any]], duration: float,
                width: int = 760, height: int = 200, pad: int = 28) -> TrustCurve:
    """Trust per turn (at the turn's middle) for each side, with the signals as markers."""
    span = max(duration, max((t["end"] or 0.0 for t in turns), default=0.0), 1.0)

    def x(t: float) -> float:
        return round(pad + (width - 2 * pad) * max(0.0, min(t, span)) / span, 1)

    def y(v: float) -> float:  # trust -1..1, +1 at the top
        return round(pad + (height - 2 * pad) * (1 - (max(-1.0, min(1.0, v)) + 1) / 2), 1)

    lines: dict[str, list[str]] = {"customer": [], "agent": []}
    dots = []
    for t in turns:
        if t["trust"] is None or t["role"] not in lines:
            continue
        mid = (t["start"] + t["end"]) / 2
        lines[t["role"]].append(f"{x(mid)},{y(t['trust'])}")
        if t["role"] == "customer":
            dots.append(Marker(x(mid), y(t["trust"]), t["start"], f"{_mmss(t['start'])} trust {t['trust']:+.2f}"))
    marks = tuple(Marker(x(s["start"]), pad, s["start"], f"{_mmss(s['start'])} {s['kind']}")
                  for s in signals if s.get("start") is not None)
    step = next((s for s in NICE_STEPS if s >= span / 7), NICE_STEPS[-1])  # about six labels
    ticks = tuple((x(float(t)), _mmss(t)) for t in range(0, int(span) + 1, step))
    return TrustCurve(width, height, pad, " ".join(lines["customer"]), " ".join(lines["agent"]),
                      tuple(dots), marks, y(0.0), ticks)


def sparkline(values: list[float], width: int = 120, height: int = 24) -> str:
    """Polyline points for a small trend line; empty when there is nothing to draw."""
    if not values:
        return ""
    top = max(values) or 1.0
    if len(values) == 1:
        return f"0,{height / 2} {width},{height / 2}"
    step = width / (len(values) - 1)
    return " ".join(f"{round(i * step, 1)},{round(height - 2 - (height - 4) * v / top, 1)}"
                    for i, v in enumerate(values))


def trend_line(values: list[float | None], lo: float, hi: float, width: int = 480,
               height: int = 120, pad: int = 16) -> list[tuple[float, float]]:
    """(x, y) per value scaled into the box; missing values are skipped."""
    n = len(values)
    out = []
    for i, v in enumerate(values):
        if v is None:
            continue
        px = pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        py = pad + (height - 2 * pad) * (1 - (max(lo, min(hi, v)) - lo) / ((hi - lo) or 1.0))
        out.append((round(px, 1), round(py, 1)))
    return out
