"""Geometry for the server-drawn SVG charts; the templates turn it into markup (escaped).

Charts are plain inline SVG so the pages need no chart library and no network, and every
label passes through Jinja's autoescaping like any other text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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
            # the dot sits at the turn's middle, so its label names the turn's span, not only its start
            dots.append(Marker(x(mid), y(t["trust"]), t["start"],
                               f"{_mmss(t['start'])}–{_mmss(t['end'])} trust {t['trust']:+.2f}"))
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


@dataclass(frozen=True)
class TrendPoint:
    x: float
    y: float
    label: str  # the contact's date and its value (the point's tooltip)
    value: str  # the value, drawn just above the point


@dataclass(frozen=True)
class TrendChart:
    """A value per contact against its date: axes, y ticks, date ticks and labelled points."""

    width: int
    height: int
    left: int  # the y axis
    right: int
    top: int
    bottom: int  # the x axis
    points: tuple[TrendPoint, ...]
    y_ticks: tuple[tuple[float, str], ...]  # (y, label)
    x_ticks: tuple[tuple[float, str], ...]  # (x, date label)
    zero_y: float
    by_date: bool  # False: the contacts carry no dates and are spaced in order

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)

    @property
    def empty(self) -> bool:
        return not self.points


def _when(started_at: str | None) -> datetime | None:
    if not started_at:
        return None
    try:
        return datetime.fromisoformat(str(started_at).replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def trend_chart(contacts: list[tuple[str | None, float | None]], lo: float = -1.0, hi: float = 1.0,
                width: int = 560, height: int = 200) -> TrendChart:
    """``contacts``: (started_at, value) in order. Points are placed by date when every contact
    with a value has one, else one step per contact; contacts without a value are left out."""
    left, right, top, bottom = 44, width - 40, 14, height - 40  # room for the date labels and caption
    dated = [(_when(at), v) for at, v in contacts if v is not None]
    by_date = bool(dated) and all(d is not None for d, _ in dated)

    def y(v: float) -> float:
        return round(bottom - (bottom - top) * (max(lo, min(hi, v)) - lo) / ((hi - lo) or 1.0), 1)

    y_ticks = tuple((y(lo + (hi - lo) * i / 4), f"{lo + (hi - lo) * i / 4:+.1f}") for i in range(5))
    if not dated:
        return TrendChart(width, height, left, right, top, bottom, (), y_ticks, (), y(0.0), False)
    inner = right - left - 16  # keep the outermost points off the axes

    if by_date:
        first = min(d for d, _ in dated)
        last = max(d for d, _ in dated)
        span = (last - first).total_seconds()

        def x_of(i: int, d: datetime | None) -> float:
            frac = (d - first).total_seconds() / span if span else 0.5  # type: ignore[operator]
            return round(left + 8 + inner * frac, 1)
    else:
        n = len(dated)

        def x_of(i: int, d: datetime | None) -> float:
            return round(left + 8 + inner * (i / (n - 1) if n > 1 else 0.5), 1)

    points = []
    for i, (d, v) in enumerate(dated):
        when = d.strftime("%Y-%m-%d %H:%M") if d else f"contact {i + 1}"
        shown = round(v, 2) + 0.0  # never "-0.00"
        points.append(TrendPoint(x_of(i, d), y(v), f"{when}: {shown:+.2f}", f"{shown:+.2f}"))
    x_ticks: list[tuple[float, str]] = []
    if by_date:
        days = sorted({d.date() for d, _ in dated})  # type: ignore[union-attr]
        keep = max(1, -(-len(days) // 6))  # at most about six date labels
        for day in days[::keep]:
            tick = next(x_of(i, d) for i, (d, _) in enumerate(dated) if d.date() == day)  # type: ignore[union-attr]
            x_ticks.append((tick, day.isoformat()))
    else:
        x_ticks = [(p.x, f"#{i + 1}") for i, p in enumerate(points)]
    return TrendChart(width, height, left, right, top, bottom, tuple(points), y_ticks, tuple(x_ticks), y(0.0),
                      by_date)
