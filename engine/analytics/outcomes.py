"""Predictions checked against what really happened: ``wocas validate --outcomes FILE``.

The outcomes file is a CSV with one row per customer: ``customer_id``, then either
``outcome`` (``churned`` or ``retained``) or ``churned`` (true/false, 1/0), and/or
``revenue_after`` (revenue after the contact; without an outcome column a customer with no
revenue after counts as churned), and optionally ``date`` (when the outcome was known).

Reported: how well the stored defection risk ranked the customers who left (ROC-AUC with a
bootstrap interval, precision at the riskiest 5% and 10%, and lift over the base churn
rate), and whether customers whose last call *recovered* (frustration turned into trust)
stayed more often than those whose last call *deteriorated*; the difference, times the
value of the recovered customers, is the value rescued, measured rather than asserted.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from wocas.config import Config
from wocas.errors import UsageError
from wocas.store import Store, queries

log = logging.getLogger(__name__)

CHURNED = {"churned", "churn", "left", "lost", "cancelled", "canceled", "true", "1", "yes", "y"}
RETAINED = {"retained", "stayed", "kept", "active", "false", "0", "no", "n"}
TOP_FRACTIONS = (0.05, 0.10)
BOOTSTRAP = 500

# Each customer with a known outcome, their stored risk and value, and the shape of their last
# call (before the outcome date when there is one) that has a trajectory.
JOINED_SQL = """
WITH shaped AS (
    SELECT c.customer_id, c.trajectory_shape,
        COALESCE(TRY_CAST(c.started_at AS TIMESTAMP), TRY_CAST(TRY_CAST(c.started_at AS TIMESTAMPTZ) AS TIMESTAMP),
                 c.processed_at) AS ts
    FROM calls c WHERE c.status = 'ok' AND c.trajectory_shape IS NOT NULL
), last_shape AS (
    SELECT o.customer_id, arg_max(s.trajectory_shape, s.ts) AS last_shape
    FROM outcomes o JOIN shaped s ON s.customer_id = o.customer_id
        AND (TRY_CAST(o.outcome_date AS TIMESTAMP) IS NULL OR s.ts <= TRY_CAST(o.outcome_date AS TIMESTAMP))
    GROUP BY o.customer_id
)
SELECT o.customer_id, o.churned, o.revenue_after, o.outcome_date, cu.defection_risk, cu.value,
    cu.last_contact, ls.last_shape,
    TRY_CAST(o.outcome_date AS TIMESTAMP) < cu.last_contact AS contact_after_outcome
FROM outcomes o JOIN customers cu USING (customer_id) LEFT JOIN last_shape ls USING (customer_id)
ORDER BY o.customer_id
"""


class OutcomesError(UsageError, ValueError):
    pass


def read_outcomes(path: Path) -> list[dict[str, Any]]:
    """Parse and check the outcomes CSV; an error names the file, line and reason."""
    try:
        f = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise OutcomesError(f"outcomes file {path} does not exist") from e
    with f:
        reader = csv.DictReader(f)
        cols = {c.strip().lower(): c for c in reader.fieldnames or []}
        if "customer_id" not in cols:
            raise OutcomesError(f"{path}: needs a customer_id column (has {', '.join(cols) or 'none'})")
        outcome_col = cols.get("outcome") or cols.get("churned") or cols.get("status")
        revenue_col = cols.get("revenue_after") or cols.get("revenue")
        if outcome_col is None and revenue_col is None:
            raise OutcomesError(f"{path}: needs an outcome (churned|retained), churned or revenue_after column")
        rows: dict[str, dict[str, Any]] = {}
        for line, raw in enumerate(reader, 2):
            where = f"{path}:{line}"
            cid = (raw.get(cols["customer_id"]) or "").strip()
            if not cid:
                raise OutcomesError(f"{where}: customer_id is empty")
            revenue = None
            if revenue_col is not None and (raw.get(revenue_col) or "").strip():
                try:
                    revenue = float(raw[revenue_col])
                except ValueError as e:
                    raise OutcomesError(f"{where}: revenue_after {raw[revenue_col]!r} is not a number") from e
            churned = None
            if outcome_col is not None and (raw.get(outcome_col) or "").strip():
                value = raw[outcome_col].strip().lower()
                if value not in CHURNED | RETAINED:
                    raise OutcomesError(f"{where}: outcome {raw[outcome_col]!r} is neither churned nor retained")
                churned = value in CHURNED
            if churned is None and revenue is not None:
                churned = revenue <= 0
            if churned is None:
                raise OutcomesError(f"{where}: customer {cid} has neither an outcome nor a revenue")
            rows[cid] = {"customer_id": cid, "churned": churned, "revenue_after": revenue,
                         "outcome_date": (raw.get(cols["date"]) or "").strip() or None if "date" in cols else None}
    if not rows:
        raise OutcomesError(f"{path}: no outcome rows")
    return list(rows.values())


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Probability that a random churner outranks a random stayer (ties count half); None
    when only one class is present."""
    labels = np.asarray(labels)
    if labels.min(initial=0) == labels.max(initial=0):
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def _bootstrap_auc(scores: np.ndarray, labels: np.ndarray, seed: int = 0) -> tuple[float, float] | None:
    """95% percentile bootstrap interval of the AUC (customers resampled with their labels);
    None when too many resamples hold one class only."""
    from scipy.stats import bootstrap

    def statistic(s: np.ndarray, y: np.ndarray) -> float:
        auc = roc_auc(s, y)
        return np.nan if auc is None else auc

    result = bootstrap((np.asarray(scores), np.asarray(labels)), statistic, paired=True, vectorized=False,
                       n_resamples=BOOTSTRAP, method="percentile", random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    return float(low), float(high)


def precision_at(scores: np.ndarray, labels: np.ndarray, customer_ids: list[str], fraction: float) -> dict[str, Any]:
    """Churn rate among the riskiest ``fraction`` of customers (at least one), and its lift."""
    k = max(1, math.ceil(fraction * len(scores)))
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], customer_ids[i]))[:k]
    precision = float(labels[order].mean())
    base = float(labels.mean())
    return {"fraction": fraction, "k": k, "precision": round(precision, 4),
            "lift": round(precision / base, 3) if base > 0 else None}


def _two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p-value that two retention rates differ (pooled z-test)."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (k1 / n1 - k2 / n2) / se
    return float(math.erfc(abs(z) / math.sqrt(2)))


def validate(store: Store, outcomes_path: Path, config: Config | None = None) -> dict[str, Any]:
    """Load the outcomes into the store and score the stored predictions against them."""
    config = config or Config()
    rows = read_outcomes(outcomes_path)
    if not queries.customer_count(store):
        from wocas.analytics.customers import rollup

        rollup(store, config.customers, config.insights.satisfied_threshold)
    _load(store, rows, str(outcomes_path))
    joined = store.query(JOINED_SQL)
    report: dict[str, Any] = {
        "source": str(outcomes_path), "outcomes": len(rows), "matched": len(joined),
        "unmatched": len(rows) - len(joined),
        "contact_after_outcome": sum(1 for r in joined if r["contact_after_outcome"]),
        "currency": config.insights.currency,
    }
    scored = [r for r in joined if r["defection_risk"] is not None]
    if scored:
        scores = np.array([float(r["defection_risk"]) for r in scored])
        labels = np.array([1 if r["churned"] else 0 for r in scored])
        ids = [r["customer_id"] for r in scored]
        auc = roc_auc(scores, labels)
        ci = _bootstrap_auc(scores, labels) if auc is not None else None
        report.update({
            "churned": int(labels.sum()), "churn_rate": round(float(labels.mean()), 4),
            "roc_auc": round(auc, 4) if auc is not None else None,
            "roc_auc_95ci": [round(ci[0], 4), round(ci[1], 4)] if ci else None,
            "top": [precision_at(scores, labels, ids, f) for f in TOP_FRACTIONS],
        })
    report["trajectories"] = _trajectory_effect(joined)
    if any(r["revenue_after"] is not None for r in joined):
        report["revenue"] = _revenue_effect(joined)
    _record(store, report)
    return report


def _trajectory_effect(joined: list[dict[str, Any]]) -> dict[str, Any]:
    groups = {shape: [r for r in joined if r["last_shape"] == shape] for shape in ("recovered", "deteriorated")}
    out: dict[str, Any] = {}
    for shape, members in groups.items():
        kept = sum(1 for r in members if not r["churned"])
        out[shape] = {"customers": len(members), "retained": kept,
                      "retention": round(kept / len(members), 4) if members else None}
    rec, det = out["recovered"], out["deteriorated"]
    if rec["retention"] is None or det["retention"] is None:
        out["note"] = "needs customers whose last call recovered and others whose last call deteriorated"
        return out
    uplift = rec["retention"] - det["retention"]
    values = [r["value"] for r in groups["recovered"] if r["value"] is not None]
    out["retention_uplift"] = round(uplift, 4)
    out["p_value"] = _two_proportion_p(rec["retained"], rec["customers"], det["retained"], det["customers"])
    out["recovered_value"] = round(sum(values), 2) if values else None
    # Customers whose call recovered, valued, times how much more often such customers stayed.
    out["value_rescued"] = round(uplift * sum(values), 2) if values else None
    out["retained_value_recovered"] = round(sum(r["value"] for r in groups["recovered"]
                                                if r["value"] is not None and not r["churned"]), 2) if values else None
    return out


def _revenue_effect(joined: list[dict[str, Any]]) -> dict[str, Any]:
    with_revenue = [r for r in joined if r["revenue_after"] is not None]
    out: dict[str, Any] = {"customers": len(with_revenue)}
    for shape in ("recovered", "deteriorated"):
        vals = [r["revenue_after"] for r in with_revenue if r["last_shape"] == shape]
        out[shape] = {"customers": len(vals), "mean_revenue_after": round(float(np.mean(vals)), 2) if vals else None}
    rec, det = out["recovered"], out["deteriorated"]
    if rec["mean_revenue_after"] is not None and det["mean_revenue_after"] is not None:
        out["revenue_rescued"] = round((rec["mean_revenue_after"] - det["mean_revenue_after"]) * rec["customers"], 2)
    scored = [r for r in with_revenue if r["defection_risk"] is not None]
    if len(scored) >= 3:
        from scipy.stats import spearmanr

        rho = spearmanr([r["defection_risk"] for r in scored], [r["revenue_after"] for r in scored]).statistic
        out["risk_revenue_spearman"] = None if rho is None or np.isnan(rho) else round(float(rho), 4)
    return out


def _load(store: Store, rows: list[dict[str, Any]], source: str) -> None:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    store.replace_table("outcomes", [{**r, "source": source, "loaded_at": now} for r in rows])


def _record(store: Store, report: dict[str, Any]) -> None:
    store.append_rows("outcome_validations", [{
        "validated_at": datetime.now(timezone.utc).replace(tzinfo=None), "source": report["source"],
        "customers": report["matched"], "roc_auc": report.get("roc_auc"),
        "metrics": json.dumps(report, default=str)}])


def report_markdown(report: dict[str, Any]) -> str:
    cur = report.get("currency", "")
    lines = [f"# Defection risk against real outcomes ({report['source']})", "",
             f"- outcomes: {report['outcomes']}, matched to customer records: {report['matched']}"
             f" (unmatched {report['unmatched']})"]
    if report["contact_after_outcome"]:
        lines.append(f"- {report['contact_after_outcome']} customer(s) called after their outcome date: their risk "
                     "saw the future; re-run on calls before the outcome date for a clean test")
    if "roc_auc" in report:
        ci = report.get("roc_auc_95ci")
        lines += [f"- churned: {report['churned']} ({report['churn_rate']:.1%})",
                  f"- ROC-AUC of defection risk: {report['roc_auc']}" + (f" (95% CI {ci[0]}-{ci[1]})" if ci else ""),
                  "", "| riskiest | customers | churned among them | lift |", "|---|---|---|---|"]
        for t in report["top"]:
            lines.append(f"| {t['fraction']:.0%} | {t['k']} | {t['precision']:.1%} | {t['lift']} |")
    t = report["trajectories"]
    lines += ["", "## Did recovered calls keep customers?", "",
              "| last call | customers | retained | retention |", "|---|---|---|---|"]
    for shape in ("recovered", "deteriorated"):
        g = t[shape]
        rate = "-" if g["retention"] is None else f"{g['retention']:.1%}"
        lines.append(f"| {shape} | {g['customers']} | {g['retained']} | {rate} |")
    if "retention_uplift" in t:
        p = f" (p = {t['p_value']:.3g})" if t["p_value"] is not None else ""
        lines.append(f"\nRetention uplift of recovered over deteriorated: {t['retention_uplift']:+.1%}{p}.")
        if t["value_rescued"] is not None:
            lines.append(f"Value rescued: {cur}{t['value_rescued']:,.2f} (uplift × {cur}{t['recovered_value']:,.2f} "
                         f"of recovered customers' value).")
    else:
        lines.append(f"\n{t['note']}.")
    if "revenue" in report:
        r = report["revenue"]
        lines += ["", "## Revenue after the contact", ""]
        for shape in ("recovered", "deteriorated"):
            m = r[shape]["mean_revenue_after"]
            lines.append(f"- {shape}: {r[shape]['customers']} customers, mean revenue after "
                         + ("-" if m is None else f"{cur}{m:,.2f}"))
        if "revenue_rescued" in r:
            lines.append(f"- revenue rescued: {cur}{r['revenue_rescued']:,.2f}")
        if r.get("risk_revenue_spearman") is not None:
            lines.append(f"- Spearman correlation of risk with revenue after: {r['risk_revenue_spearman']}")
    return "\n".join(lines) + "\n"


def save_report(report: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "outcomes.json", out_dir / "outcomes.md"]
    paths[0].write_text(json.dumps(report, indent=1, default=str))
    paths[1].write_text(report_markdown(report))
    return paths
