"""``wocas report --out DIR --period week``: one self-contained HTML file with charts.

The charts are inline SVG drawn here (no chart library, no script, no network), so the file
opens anywhere and can be mailed as it is. Every label is escaped: reasons, owners and quotes
come from customers' own words.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from wocas.config import Config
from wocas.analytics.insights import Insights, alert_lines, refresh
from wocas.kinds import FLAG_LABELS
from wocas.store import Store
from wocas.store import queries as store_queries

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates_report"
PALETTE = ("#3b6ea5", "#e08a2e", "#4f9d69", "#c2474b", "#8a6bb8", "#9a7b4f", "#d672b0", "#6f7f8f",
           "#b8b83a", "#3aa6b8")
HELPED, AT_RISK, UNKNOWN, CONTACTS = "#4f9d69", "#c2474b", "#b9bec5", "#3b6ea5"


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]
    color: str


def _fmt(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.0f}" if float(v).is_integer() or abs(v) >= 10 else f"{v:.1f}"


def _nice_max(v: float) -> float:
    """The smallest 4 × (1, 2, 2.5 or 5 × 10^k) at or above v, so the four grid steps read cleanly."""
    if v <= 0:
        return 4.0
    k = math.floor(math.log10(v / 4))
    for step in (1, 2, 2.5, 5, 10):
        if 4 * step * 10 ** k >= v:
            return 4 * step * 10 ** k
    return v


def _legend(series: list[Series], x: float, y: float) -> list[str]:
    out, cx = [], x
    for s in series:
        out.append(f'<rect x="{cx}" y="{y - 9}" width="10" height="10" fill="{s.color}"/>'
                   f'<text x="{cx + 14}" y="{y}" class="lg">{escape(s.name)}</text>')
        cx += 24 + 7 * len(s.name)
    return out


def bar_chart(labels: list[str], series: list[Series], stacked: bool = False, width: int = 760,
              height: int = 240, title: str = "") -> Markup:
    """Grouped (or stacked) vertical bars, one group per label, y axis from zero."""
    pad_l, pad_r, pad_t, pad_b = 48, 12, 30, 42
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    n = max(len(labels), 1)
    totals = ([sum(s.values[i] for s in series) for i in range(len(labels))] if stacked
              else [max((s.values[i] for s in series), default=0) for i in range(len(labels))])
    top = _nice_max(max(totals, default=0))
    group_w = plot_w / n
    bar_w = group_w * 0.8 / (1 if stacked else max(len(series), 1))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" class="chart">']
    for k in range(5):
        v = top * k / 4
        y = pad_t + plot_h * (1 - k / 4)
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{pad_l - 6}" y="{y + 4:.1f}" class="ax" text-anchor="end">{_fmt(v)}</text>')
    every = max(1, -(-n // 12))  # at most ~12 axis labels
    for i, label in enumerate(labels):
        gx = pad_l + group_w * i + group_w * 0.1
        base = pad_t + plot_h
        for j, s in enumerate(series):
            v = s.values[i]
            h = plot_h * v / top if top else 0
            x = gx if stacked else gx + bar_w * j
            y = base - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" '
                         f'fill="{s.color}"><title>{escape(label)} · {escape(s.name)}: {_fmt(v)}</title></rect>')
            if stacked:
                base = y
        if i % every == 0:
            parts.append(f'<text x="{pad_l + group_w * (i + 0.5):.1f}" y="{height - pad_b + 16}" class="ax" '
                         f'text-anchor="middle">{escape(label)}</text>')
    parts += _legend(series, pad_l, 16)
    parts.append("</svg>")
    return Markup("".join(parts))


def spike_chart(daily: list[dict[str, Any]], start: date, end: date, width: int = 360, height: int = 120) -> Markup:
    """A reason's daily count (bars) against its trailing baseline mean (line); spike days in red."""
    rows = daily[-42:]
    if not rows:
        return Markup("")
    pad_l, pad_r, pad_t, pad_b = 28, 6, 8, 18
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    top = _nice_max(max(max(r["n"] for r in rows), max((r["base_mean"] or 0) for r in rows)))
    step = plot_w / len(rows)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart spark">',
             f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{pad_t + plot_h}" y2="{pad_t + plot_h}" class="grid"/>',
             f'<text x="{pad_l - 4}" y="{pad_t + 8}" class="ax" text-anchor="end">{_fmt(top)}</text>']
    line = []
    for i, r in enumerate(rows):
        x = pad_l + step * i
        h = plot_h * r["n"] / top
        spike = start <= r["day"] <= end
        parts.append(f'<rect x="{x:.1f}" y="{pad_t + plot_h - h:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}" '
                     f'fill="{AT_RISK if spike else "#9fb4cc"}"><title>{r["day"]}: {r["n"]}</title></rect>')
        if r["base_mean"] is not None:
            line.append(f"{x + step / 2:.1f},{pad_t + plot_h * (1 - (r['base_mean'] or 0) / top):.1f}")
    if line:
        parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#333" stroke-width="1.5" '
                     f'stroke-dasharray="4 2"/>')
    parts.append(f'<text x="{pad_l}" y="{height - 4}" class="ax">{rows[0]["day"]}</text>'
                 f'<text x="{width - pad_r}" y="{height - 4}" class="ax" text-anchor="end">{rows[-1]["day"]}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def hbar(value: float | None, top: float, color: str = CONTACTS, width: int = 160) -> Markup:
    """A small horizontal bar for a table cell."""
    if value is None or top <= 0:
        return Markup("")
    w = max(1.0, width * value / top)
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 12" width="{width}" height="12">'
                  f'<rect x="0" y="1" width="{w:.1f}" height="10" fill="{color}"/></svg>')


def _money(value: float | None, currency: str) -> str:
    return "-" if value is None else f"{currency}{value:,.0f}"


def qa_flags(store: Store) -> list[dict[str, Any]]:
    """Calls per QA flag kind, as the flags stage stored them (calls.flags), most frequent first,
    with the reviewers' latest verdicts on them (copied in by each run)."""
    total = store.query("SELECT count(*) AS n FROM calls WHERE status = 'ok'")[0]["n"]
    return [{**r, "label": FLAG_LABELS.get(r["flag"], r["flag"]), "share": r["calls"] / total if total else None,
             "confirmed_share": r["confirmed"] / r["reviewed"] if r["reviewed"] else None}
            for r in store_queries.flag_reviews(store)]


def context(insights: Insights, config: Config, store_path: str,
            flags: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the template shows, charts drawn."""
    cur = config.insights.currency
    periods = [r["period"] for r in insights.customers]
    labels = [p.isoformat() for p in periods]
    customers_chart = bar_chart(labels, [
        Series("helped (recovered or predicted satisfied)", [r["helped"] for r in insights.customers], HELPED),
        Series("left at risk", [r["at_risk"] for r in insights.customers], AT_RISK),
        Series("outcome unknown", [r["outcome_unknown"] for r in insights.customers], UNKNOWN),
    ], stacked=True, title="unique customers per period")
    contacts_chart = bar_chart(labels, [
        Series("contacts", [r["contacts"] for r in insights.customers], CONTACTS),
        Series("unique customers", [r["customers"] for r in insights.customers], "#e08a2e"),
    ], title="contacts and customers")
    owners = sorted({r["owner"] for r in insights.chargeback},
                    key=lambda o: -sum(r["cost"] for r in insights.chargeback if r["owner"] == o))
    cost = {(r["period"], r["owner"]): r["cost"] for r in insights.chargeback}
    charge_periods = sorted({r["period"] for r in insights.chargeback})
    chargeback_chart = bar_chart([p.isoformat() for p in charge_periods], [
        Series(o, [cost.get((p, o), 0.0) for p in charge_periods], PALETTE[i % len(PALETTE)])
        for i, o in enumerate(owners)], stacked=True, title="cost of preventable contacts per owner")
    latest = charge_periods[-1] if charge_periods else None
    owner_rows = []
    for o in owners:
        mine = [r for r in insights.chargeback if r["owner"] == o]
        last = next((r for r in mine if r["period"] == latest), None)
        owner_rows.append({
            "owner": o, "total": sum(r["cost"] for r in mine), "contacts": sum(r["contacts"] for r in mine),
            "latest": last["cost"] if last else 0.0, "change": last["change"] if last else None,
            "reasons": [r for r in insights.chargeback_reasons if r["owner"] == o][:3],
        })
    usage: dict[str, list[dict[str, Any]]] = {"heavy": [], "light": []}
    totals: dict[tuple[str, str], int] = {}
    for r in insights.usage:
        totals[(r["usage"], r["reason"])] = totals.get((r["usage"], r["reason"]), 0) + r["contacts"]
    for (group, reason), n in sorted(totals.items(), key=lambda kv: -kv[1]):
        if len(usage[group]) < 6:
            usage[group].append({"reason": reason, "contacts": n})
    alerts = []
    for a in insights.alerts:
        chart = (spike_chart(insights.daily.get(a["reason"], []), a["start_day"], a["end_day"])
                 if a["kind"] == "spike" else Markup(""))
        alerts.append({**a, "chart": chart, "line": alert_lines([a])[0]})
    c = insights.customers
    summary = {
        "customers": insights.totals.get("customers", 0), "contacts": insights.totals.get("contacts", 0),
        "contacts_per_customer": (insights.totals["contacts"] / insights.totals["customers"]
                                  if insights.totals.get("customers") else None),
        "helped": c[-1]["helped"] if c else 0, "at_risk": c[-1]["at_risk"] if c else 0,
        "last_period": labels[-1] if labels else "-", "last_customers": c[-1]["customers"] if c else 0,
        "preventable": insights.totals.get("preventable", 0),
        "preventable_cost": _money(insights.totals.get("preventable_cost"), cur),
        "active_alerts": len(insights.active_alerts),
        "value_at_risk": _money(insights.totals.get("value_at_risk"), cur),
        "recovered_calls": insights.totals.get("recovered_calls", 0),
        "repeat_contacts": insights.totals.get("repeat_contacts", 0),
    }
    agent_top = max((a["calls"] for a in insights.agents), default=0)
    return {
        "title": "What our customers are saying", "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "store": store_path, "period": insights.period, "currency": cur, "summary": summary,
        "first_day": insights.totals.get("first_day"), "last_day": insights.totals.get("last_day"),
        "customers": insights.customers, "customers_chart": customers_chart, "contacts_chart": contacts_chart,
        "usage": usage, "chargeback_chart": chargeback_chart, "owners": owner_rows, "latest_period": latest,
        "alerts": alerts, "agents": insights.agents, "agent_top": agent_top, "hbar": hbar, "money": _money,
        "cost_per_contact": config.insights.cost_per_contact, "cost_per_minute": config.insights.cost_per_minute,
        "flags": flags or [], "flag_top": max((f["calls"] for f in flags or []), default=0),
    }


def render(insights: Insights, config: Config, store_path: str = "",
           flags: list[dict[str, Any]] | None = None) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    css = (TEMPLATES / "report.css").read_text()
    return env.get_template("report.html").render(**context(insights, config, store_path, flags), css=Markup(css))


def write_report(store: Store, out_dir: Path, config: Config | None = None, period: str = "week") -> list[Path]:
    """Refresh the insight tables and write report.html (+ report.json with the numbers)."""
    config = config or Config()
    insights = refresh(store, config, period)
    flags = qa_flags(store)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out_dir / "report.html", out_dir / "report.json"
    html_path.write_text(render(insights, config, str(store.path), flags), encoding="utf-8")
    data = {"period": insights.period, "totals": insights.totals, "customers": insights.customers,
            "usage": insights.usage, "chargeback": insights.chargeback,
            "chargeback_reasons": insights.chargeback_reasons, "alerts": insights.alerts, "agents": insights.agents, "flags": flags}
    json_path.write_text(json.dumps(data, indent=1, default=str))
    return [html_path, json_path]
