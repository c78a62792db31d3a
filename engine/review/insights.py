"""What our customers are saying: the numbers on the Insights page, from the store."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from wocas.review import queries
from wocas.review.charts import sparkline
from wocas.kinds import FLAG_LABELS, SignalKind
from wocas.stages.flags import DEFECTION_SIGNALS
from wocas.store import queries as store_queries
from wocas.store import Store

EMERGING_DAYS = 7  # the recent window, compared with the 28 days before it
BASELINE_DAYS = 28


@dataclass(frozen=True)
class ReasonTrend:
    reason: str
    count: int
    share: float
    recent_share: float
    baseline_share: float
    spark: str  # polyline points of daily counts

    @property
    def rise(self) -> float:
        return self.recent_share - self.baseline_share


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def reason_trends(by_day: list[dict[str, Any]]) -> tuple[list[ReasonTrend], list[str]]:
    """Top reasons with their daily trend, and the days they span (oldest first)."""
    totals: Counter[str] = Counter()
    per_day: dict[str, Counter[date]] = defaultdict(Counter)
    for r in by_day:
        totals[r["reason"]] += r["n"]
        d = _day(r["day"])
        if d:
            per_day[r["reason"]][d] += r["n"]
    days = sorted({d for c in per_day.values() for d in c})
    if days:
        all_days = [days[0] + timedelta(i) for i in range((days[-1] - days[0]).days + 1)]
        recent_from = days[-1] - timedelta(EMERGING_DAYS - 1)
        baseline_from = recent_from - timedelta(BASELINE_DAYS)
    else:
        all_days, recent_from, baseline_from = [], date.min, date.min
    recent_total = sum(n for c in per_day.values() for d, n in c.items() if d >= recent_from)
    base_total = sum(n for c in per_day.values() for d, n in c.items() if baseline_from <= d < recent_from)
    grand = sum(totals.values()) or 1
    trends = []
    for reason, count in totals.most_common():
        daily = per_day[reason]
        recent = sum(n for d, n in daily.items() if d >= recent_from)
        base = sum(n for d, n in daily.items() if baseline_from <= d < recent_from)
        trends.append(ReasonTrend(reason, count, count / grand, recent / recent_total if recent_total else 0.0,
                                  base / base_total if base_total else 0.0,
                                  sparkline([float(daily.get(d, 0)) for d in all_days])))
    return trends, [d.isoformat() for d in all_days]


def emerging(trends: list[ReasonTrend], min_rise: float = 0.05) -> list[ReasonTrend]:
    """Reasons whose share of the last week grew against the four weeks before (none without a baseline)."""
    if not any(t.baseline_share for t in trends):
        return []
    return sorted((t for t in trends if t.rise >= min_rise and t.recent_share > 0), key=lambda t: -t.rise)


def estimated_risk(store: Store) -> list[dict[str, Any]]:
    """Without the customers roll-up: each customer's strongest defection signal times their value."""
    value: dict[str, float | None] = {}
    for c in queries.customer_list(store):
        value[c["customer_id"]] = c["value"]
    risk: dict[str, float] = {}
    for s in queries.signal_rows(store):
        if s["customer_id"] and SignalKind.parse(s["kind"]) in DEFECTION_SIGNALS:
            risk[s["customer_id"]] = max(risk.get(s["customer_id"], 0.0), float(s["strength"] or 0.0))
    out = [{"customer_id": cid, "risk": r, "value": value.get(cid),
            "value_at_risk": r * value[cid] if value.get(cid) is not None else None} for cid, r in risk.items()]
    return sorted(out, key=lambda r: (-(r["value_at_risk"] or 0.0), -r["risk"]))


def agreement(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows``: ``Verdicts.agreement()``, per flag kind."""
    out = []
    for r in rows:
        r["label"] = FLAG_LABELS.get(r["flag"], r["flag"].replace("_", " "))
        r["rate"] = r["confirmed"] / r["reviewed"] if r["reviewed"] else None
        out.append(r)
    return out


def build(store: Store, agreement_rows: list[dict[str, Any]]) -> dict[str, Any]:
    trends, days = reason_trends(queries.reason_counts_by_day(store))
    owners = queries.preventable_by_owner(store)
    for o in owners:
        o["share"] = o["preventable"] / o["contacts"] if o["contacts"] else 0.0
    at_risk, from_rollup = queries.customers_at_risk(store)
    if not from_rollup:
        at_risk = estimated_risk(store)
    totals = store_queries.risk_totals(store)
    return {
        "repeat_contacts": totals.repeat_contacts, "recovered_calls": totals.recovered_calls,
        "trends": trends[:15], "days": days, "emerging": emerging(trends),
        "has_baseline": any(t.baseline_share for t in trends),
        "owners": owners, "preventable": queries.preventable_overall(store),
        "at_risk": at_risk[:20], "risk_from_rollup": from_rollup,
        "value_at_risk": sum(r["value_at_risk"] or 0.0 for r in at_risk),
        "customers_at_risk": sum(1 for r in at_risk if (r["risk"] or 0.0) >= 0.5),
        "agreement": agreement(agreement_rows),
    }
