"""Per-customer records over every run in the store: contacts, repeats, jobs, emotion trend,
defection risk with its reasons, value at risk and value rescued.

The facts come from DuckDB SQL over the call tables; the risk is a noisy-OR of named factors
(each a probability-like push with the evidence that raised it), so the number is always in
[0, 1], only grows when a new factor appears, and every point of it has a reason attached.
A factor's push is its raw value in [0, 1] times a named weight: ``[customers] risk_weights``
names the weights (the default, models/churn-risk, fitted by scripts/fit_churn.py; "" = the
hand-set constants below).

Fields the input may carry (any CRM column arrives as call metadata): ``customer_value`` or
``value`` (the customer's worth; enables value at risk / rescued), ``channel``,
``contact_reason`` / ``reason`` / ``disposition`` (used when the jobs stage found no reason),
``resolved`` (case status; ``false`` marks the call unresolved), ``complaint_logged``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from wocas.config import CustomersConfig, InsightsConfig
from wocas.errors import ModelError
from wocas.kinds import SignalKind
from wocas.schema import CustomerRecord
from wocas.store import ExportFormat, Store
from wocas.store import queries

log = logging.getLogger(__name__)

# Defection signals and how far each (at full strength) pushes the risk.
SIGNAL_RISK: dict[SignalKind, float] = {
    SignalKind.CANCEL_INTENT: 0.5, SignalKind.THREAT_TO_LEAVE: 0.5, SignalKind.LEGAL_THREAT: 0.4,
    SignalKind.COMPETITOR: 0.3, SignalKind.COMPLAINT: 0.25, SignalKind.ESCALATION_REQUEST: 0.2,
    SignalKind.SALE_ON_LOW_TRUST: 0.15,
}
SIGNAL_WORDS: dict[SignalKind, str] = {
    SignalKind.CANCEL_INTENT: "asked to cancel", SignalKind.THREAT_TO_LEAVE: "threatened to leave",
    SignalKind.LEGAL_THREAT: "threatened legal action", SignalKind.COMPETITOR: "mentioned a competitor",
    SignalKind.COMPLAINT: "complained", SignalKind.ESCALATION_REQUEST: "asked for a manager",
    SignalKind.SALE_ON_LOW_TRUST: "was sold to while frustrated",
}
REPEAT_RISK, MAX_REPEAT_RISK = 0.2, 0.6  # per repeat contact
OPEN_JOB_RISK, MAX_OPEN_JOB_RISK = 0.2, 0.4  # per job still open
DISSATISFIED_RISK = 0.3  # × (1 - p_satisfied) of the last contact
TREND_RISK, MAX_TREND_RISK = 0.5, 0.3  # × the fall in trust per contact
PREVENTABLE_RISK, MAX_PREVENTABLE_RISK = 0.1, 0.2  # per preventable contact
UNLOGGED_COMPLAINT_RISK = 0.15  # a complaint nobody logged is a complaint nobody handles
MIN_REASON = 0.03  # factors smaller than this are not listed as reasons


# Outcomes that leave the customer's problem open, and how far each (times its confidence) pushes the risk.
OPEN_RESOLUTION_RISK: dict[str, float] = {"customer_gave_up": 0.35, "unresolved": 0.25, "partly_resolved": 0.1}
# The contacts view, the repeat rule and the call outcomes are the store's one definition of each
# figure (wocas.store.queries); the roll-up counts them per customer.
OPEN_CONFIDENCE = queries.OPEN_CONFIDENCE
# The trust the last contact ended on: a call that closed with the customer's trust below zero
# pushes the risk by this times how far below (at most 1), more when it fell during the call.
TRUST_OUTCOME_RISK = 0.3
FALLING_SHAPES = ("deteriorated", "steady-negative")

# Each factor is a raw value in [0, 1] times a named weight (its push at full strength). The
# hand-set weights are the constants above; a counted factor reaches full strength where the
# hand-set per-unit push reaches its cap, so the hand-set pushes are unchanged.
HAND_SET_WEIGHTS: dict[str, float] = {
    **{f"signal:{kind.value}": w for kind, w in SIGNAL_RISK.items()},
    "repeats": MAX_REPEAT_RISK, "open_jobs": MAX_OPEN_JOB_RISK, "dissatisfied": DISSATISFIED_RISK,
    "emotion_trend": MAX_TREND_RISK, "preventable": MAX_PREVENTABLE_RISK,
    "unlogged_complaint": UNLOGGED_COMPLAINT_RISK,
    **{f"outcome:{state}": w for state, w in OPEN_RESOLUTION_RISK.items()},
    "trust_outcome": TRUST_OUTCOME_RISK,
}
WEIGHTS_KIND = "churn-risk-weights"

CUSTOMERS_SQL = """
SELECT c.customer_id, count(*) AS contacts, min(c.ts) AS first_contact, max(c.ts) AS last_contact,
    count(*) FILTER (WHERE r.is_repeat) AS repeat_contacts,
    count(*) FILTER (WHERE c.preventable) AS preventable_contacts,
    arg_max(c.value, c.ts) FILTER (WHERE c.value IS NOT NULL) AS value,
    count(*) FILTER (WHERE o.recovered) AS rescued_calls,
    bool_or(c.complaint AND NOT c.complaint_logged) AS unlogged_complaint,
    arg_min(c.emotion, c.n) FILTER (WHERE c.emotion IS NOT NULL) AS emotion_first,
    arg_max(c.emotion, c.n) FILTER (WHERE c.emotion IS NOT NULL) AS emotion_last,
    regr_slope(c.emotion, c.n) AS emotion_trend,
    avg(c.satisfaction_score) AS satisfaction_mean,
    arg_max(c.satisfaction_score, c.n) FILTER (WHERE c.satisfaction_score IS NOT NULL) AS satisfaction_last,
    arg_max(c.p_satisfied, c.n) FILTER (WHERE c.p_satisfied IS NOT NULL) AS p_satisfied_last
FROM _contacts c JOIN _repeats r USING (call_id) JOIN _call_outcomes o USING (call_id)
GROUP BY c.customer_id ORDER BY c.customer_id
"""

CHANNELS_SQL = "SELECT customer_id, channel, count(*) AS n FROM _contacts GROUP BY ALL ORDER BY ALL"

REPEAT_REASONS_SQL = """
SELECT c.customer_id, c.call_id, r.repeat_of AS earlier, r.evidence,
       list_intersect(c.reasons, p.reasons) AS same, p.unresolved AS earlier_unresolved
FROM _repeats r JOIN _contacts c USING (call_id) LEFT JOIN _contacts p ON p.call_id = r.repeat_of
WHERE r.is_repeat
ORDER BY c.customer_id, c.n
"""

JOBS_SQL = """
WITH per_reason AS (
    SELECT customer_id, UNNEST(reasons) AS reason, n, ts, call_id, unresolved FROM _contacts
)
SELECT customer_id, reason, count(*) AS contacts, max(ts) AS last_contact,
       arg_max(unresolved, n) AS open, arg_max(call_id, n) AS last_call
FROM per_reason GROUP BY ALL ORDER BY customer_id, last_contact, reason
"""

SIGNALS_SQL = """
SELECT c.customer_id, s.kind, s.strength, s.quote, s.call_id, c.p_satisfied
FROM signals s JOIN _contacts c USING (call_id)
ORDER BY c.customer_id, s.kind, s.strength DESC, s.call_id, s.quote
"""

# The customer's last contact and how it ended: an open issue with no detected reason is still open.
LAST_OUTCOME_SQL = """
SELECT customer_id, arg_max(call_id, n) AS call_id, arg_max(resolution, n) AS resolution,
       arg_max(resolution_confidence, n) AS confidence, arg_max(resolution_quote, n) AS quote,
       arg_max(unresolved, n) AS unresolved, arg_max(len(reasons), n) AS n_reasons,
       arg_max(trust_closing, n) AS trust_closing, arg_max(trajectory_shape, n) AS shape
FROM _contacts GROUP BY customer_id
"""

PERIODS_SQL = """
SELECT date_trunc(?, ts) AS period, count(DISTINCT customer_id) AS unique_customers, count(*) AS contacts
FROM _contacts GROUP BY ALL ORDER BY period
"""


@dataclass
class Factor:
    push: float  # how far this factor pushes the risk: its named weight × its raw value, in [0, 1]
    reason: str
    name: str = ""  # the weight it is pushed by (a key of HAND_SET_WEIGHTS)
    raw: float = 1.0  # how strongly it is present, in [0, 1]


@dataclass
class RiskInputs:
    signals: list[dict[str, Any]] = field(default_factory=list)
    repeats: list[dict[str, Any]] = field(default_factory=list)
    open_jobs: list[str] = field(default_factory=list)
    p_satisfied_last: float | None = None
    satisfaction_last: float | None = None
    emotion_trend: float | None = None
    preventable_contacts: int = 0
    unlogged_complaint: bool = False
    last_outcome: dict[str, Any] | None = None  # the last contact's resolution, confidence, quote and call id


def load_weights(name_or_path: str) -> dict[str, float]:
    """The factor weights ``[customers] risk_weights`` names: "" = the hand-set constants, else a
    registered name (its sha256 pin is checked) or a JSON file's path. A missing or damaged file
    is a ``ModelError`` naming it."""
    if not name_or_path:
        return dict(HAND_SET_WEIGHTS)
    from wocas.models import registry

    if name_or_path in registry.names():
        registry.verify(name_or_path)
    path = registry.resolve(name_or_path).path
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"risk weights {path}: cannot be read as JSON ({e})") from e
    weights = data.get("weights") if isinstance(data, dict) else None
    if not isinstance(weights, dict) or data.get("kind") != WEIGHTS_KIND:
        raise ModelError(f"risk weights {path}: not a {WEIGHTS_KIND} file (needs \"kind\" and \"weights\")")
    missing, unknown = sorted(set(HAND_SET_WEIGHTS) - set(weights)), sorted(set(weights) - set(HAND_SET_WEIGHTS))
    if missing or unknown:
        raise ModelError(f"risk weights {path}: missing {missing}, unknown {unknown}")
    bad = [k for k, w in weights.items() if not isinstance(w, (int, float)) or not 0.0 <= w <= 1.0]
    if bad:
        raise ModelError(f"risk weights {path}: weights must be numbers in [0, 1]: {bad}")
    return {k: float(weights[k]) for k in HAND_SET_WEIGHTS}


def _factor(weights: dict[str, float], name: str, raw: float, reason: str) -> Factor:
    raw = max(0.0, min(1.0, raw))
    return Factor(weights[name] * raw, reason, name, raw)


def risk_factors(inputs: RiskInputs, weights: dict[str, float] = HAND_SET_WEIGHTS) -> list[Factor]:
    factors: list[Factor] = []
    strongest: dict[SignalKind, Factor] = {}
    for s in inputs.signals:
        kind = SignalKind.parse(s["kind"])
        if kind not in SIGNAL_RISK:
            continue
        # A complaint in a call that ended with a satisfied customer weighs half as much.
        settled = 0.5 * (s["p_satisfied"] if s.get("p_satisfied") is not None else 0.0)
        raw = max(0.0, min(1.0, s["strength"])) * (1 - settled)
        if kind not in strongest or raw > strongest[kind].raw:
            quote = f': "{s["quote"][:80]}"' if s.get("quote") else ""
            strongest[kind] = _factor(weights, f"signal:{kind.value}", raw,
                                      f"{SIGNAL_WORDS[kind]} (call {s['call_id']}){quote}")
    factors.extend(strongest.values())
    if inputs.repeats:
        about = sorted({reason for r in inputs.repeats for reason in (r.get("same") or [])})
        if about:
            why = f"about {', '.join(about)}"
        elif any(r.get("earlier_unresolved") for r in inputs.repeats):
            why = "after an unresolved call"
        else:
            why = "(the customer or the CRM says they contacted before)"
        factors.append(_factor(weights, "repeats", REPEAT_RISK * len(inputs.repeats) / MAX_REPEAT_RISK,
                               f"{len(inputs.repeats)} repeat contact(s) {why}"))
    if inputs.open_jobs:
        factors.append(_factor(weights, "open_jobs", OPEN_JOB_RISK * len(inputs.open_jobs) / MAX_OPEN_JOB_RISK,
                               f"still open: {', '.join(inputs.open_jobs[:3])}"
                               + (f" and {len(inputs.open_jobs) - 3} more" if len(inputs.open_jobs) > 3 else "")))
    if inputs.p_satisfied_last is not None:
        score = f" (CSAT {inputs.satisfaction_last:.1f})" if inputs.satisfaction_last is not None else ""
        factors.append(_factor(weights, "dissatisfied", 1 - inputs.p_satisfied_last,
                               f"last contact predicted {inputs.p_satisfied_last:.0%} likely satisfied{score}"))
    if inputs.emotion_trend is not None and inputs.emotion_trend < 0:
        factors.append(_factor(weights, "emotion_trend", -TREND_RISK * inputs.emotion_trend / MAX_TREND_RISK,
                               f"emotion falling across contacts ({inputs.emotion_trend:+.2f} per contact)"))
    if inputs.preventable_contacts:
        factors.append(_factor(weights, "preventable",
                               PREVENTABLE_RISK * inputs.preventable_contacts / MAX_PREVENTABLE_RISK,
                               f"{inputs.preventable_contacts} preventable contact(s)"))
    if inputs.unlogged_complaint:
        factors.append(_factor(weights, "unlogged_complaint", 1.0, "complained, but no complaint was logged"))
    last = inputs.last_outcome
    if last and last.get("resolution") in OPEN_RESOLUTION_RISK and last.get("confidence") is not None:
        quote = f': "{last["quote"][:80]}"' if last.get("quote") else ""
        factors.append(_factor(weights, f"outcome:{last['resolution']}", float(last["confidence"]),
                               f"last contact ended {str(last['resolution']).replace('_', ' ')} "
                               f"(call {last['call_id']}){quote}"))
    closing = last.get("trust_closing") if last else None
    if closing is not None and closing < 0:
        shape = last.get("shape")
        raw = min(1.0, -closing) * (1.0 if shape in FALLING_SHAPES else 0.5)
        factors.append(_factor(weights, "trust_outcome", raw,
                               f"last contact closed with the customer's trust at {closing:+.2f}"
                               + (f", {shape}" if shape else "") + f" (call {last['call_id']})"))
    return factors


def raw_values(inputs: RiskInputs) -> dict[str, float]:
    """Each factor's raw value for one customer (0 where the factor is absent): what the weights are fitted on."""
    values = dict.fromkeys(HAND_SET_WEIGHTS, 0.0)
    values.update({f.name: f.raw for f in risk_factors(inputs)})
    return values


def defection_risk(factors: list[Factor]) -> tuple[float, list[str]]:
    """Noisy-OR: the chance that at least one factor drives the customer away. Each reason ends
    with its own push (``[+0.45]``), strongest first, so the rank is explained by its evidence."""
    stay = 1.0
    for f in factors:
        stay *= 1 - max(0.0, min(1.0, f.push))
    reasons = [f"{f.reason} [+{f.push:.2f}]" for f in sorted(factors, key=lambda f: -f.push)
               if f.push >= MIN_REASON]
    return round(1 - stay, 4), reasons


def _group(rows: list[dict[str, Any]], key: str = "customer_id") -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row[key], []).append(row)
    return out


@dataclass
class CustomerFacts:
    row: dict[str, Any]  # CUSTOMERS_SQL's row
    channels: dict[str, int]
    jobs: list[dict[str, Any]]
    inputs: RiskInputs


def customer_facts(store: Store, config: CustomersConfig | None = None,
                   satisfied_threshold: float | None = None) -> list[CustomerFacts]:
    """Every customer's counts, jobs and risk inputs, read from the store (nothing is written).

    Repeats and recovered calls are counted with the store's definitions (``queries.REPEATS_SQL``,
    ``queries.OUTCOMES_SQL``); ``satisfied_threshold`` is ``[insights] satisfied_threshold``."""
    config = config or CustomersConfig()
    satisfied = InsightsConfig().satisfied_threshold if satisfied_threshold is None else satisfied_threshold
    queries.define_views(store, queries.Thresholds(float(config.repeat_window_days), float(config.rescue_from),
                                                   float(config.rescue_to), float(satisfied)))
    customers = store.query(CUSTOMERS_SQL)
    channels = _group(store.query(CHANNELS_SQL))
    repeats = _group(store.query(REPEAT_REASONS_SQL))
    jobs = _group(store.query(JOBS_SQL))
    signals = _group(store.query(SIGNALS_SQL))
    outcomes = {r["customer_id"]: r for r in store.query(LAST_OUTCOME_SQL)}
    facts = []
    for c in customers:
        cid = c["customer_id"]
        customer_jobs = [{"reason": j["reason"], "contacts": j["contacts"], "status": "open" if j["open"] else "resolved",
                          "last_contact": str(j["last_contact"]), "last_call": j["last_call"]}
                         for j in jobs.get(cid, [])]
        open_jobs = [j["reason"] for j in customer_jobs if j["status"] == "open"]
        last = outcomes.get(cid)
        if last and last["unresolved"] and not last["n_reasons"]:
            open_jobs.append(f"unresolved call {last['call_id']}")  # open even when no reason was detected
        inputs = RiskInputs(
            signals=signals.get(cid, []), repeats=repeats.get(cid, []), open_jobs=open_jobs,
            p_satisfied_last=c["p_satisfied_last"], satisfaction_last=c["satisfaction_last"],
            emotion_trend=c["emotion_trend"] if c["contacts"] > 1 else None,
            preventable_contacts=c["preventable_contacts"], unlogged_complaint=bool(c["unlogged_complaint"]),
            last_outcome=last,
        )
        facts.append(CustomerFacts(c, {r["channel"]: r["n"] for r in channels.get(cid, [])}, customer_jobs, inputs))
    return facts


def risk_inputs(store: Store, config: CustomersConfig | None = None,
                satisfied_threshold: float | None = None) -> dict[str, RiskInputs]:
    """customer_id -> the inputs of their defection risk, without writing the customers table."""
    return {f.row["customer_id"]: f.inputs for f in customer_facts(store, config, satisfied_threshold)}


def rollup(store: Store, config: CustomersConfig | None = None,
           satisfied_threshold: float | None = None) -> list[dict[str, Any]]:
    """Rebuild the ``customers`` table from every call in the store; returns its rows. The risk is
    weighed by ``config.risk_weights`` (see ``load_weights``)."""
    config = config or CustomersConfig()
    weights = load_weights(config.risk_weights)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = []
    for f in customer_facts(store, config, satisfied_threshold):
        c, inputs = f.row, f.inputs
        risk, reasons = defection_risk(risk_factors(inputs, weights))
        value = c["value"]
        rows.append({
            "customer_id": c["customer_id"], "contacts": c["contacts"], "first_contact": c["first_contact"],
            "last_contact": c["last_contact"],
            "contacts_by_channel": json.dumps(f.channels),
            "usage": "heavy" if c["contacts"] >= config.heavy_user_contacts else "light",
            "repeat_contacts": c["repeat_contacts"],
            "repeat_rate": round(c["repeat_contacts"] / c["contacts"], 4),
            "jobs": json.dumps(f.jobs), "open_jobs": inputs.open_jobs,
            "preventable_contacts": c["preventable_contacts"],
            "emotion_first": _round(c["emotion_first"]), "emotion_last": _round(c["emotion_last"]),
            "emotion_trend": _round(inputs.emotion_trend),
            "satisfaction_mean": _round(c["satisfaction_mean"]), "satisfaction_last": _round(c["satisfaction_last"]),
            "defection_risk": risk, "risk_reasons": reasons, "at_risk": risk >= config.at_risk_threshold,
            "unlogged_complaint": bool(c["unlogged_complaint"]),
            "value": value,
            "value_at_risk": round(risk * value, 2) if value is not None else None,
            "rescued_calls": c["rescued_calls"],
            # A customer's value is counted once however many calls won them back.
            "value_rescued": (value if c["rescued_calls"] else 0.0) if value is not None else None,
            "updated_at": now,
        })
    store.replace_table("customers", rows)
    log.info("customers: %d records rebuilt", len(rows))
    return rows


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)


def unique_customers(store: Store, period: str = "week") -> list[dict[str, Any]]:
    """Unique customers and contacts per day, week or month (needs ``rollup``'s view)."""
    if period not in ("day", "week", "month"):
        raise ValueError(f"period must be day, week or month, not {period!r}")
    store.execute(queries.CONTACTS_SQL)
    return store.query(PERIODS_SQL, [period])


def export(store: Store, out_dir: Path, period: str = "week") -> list[Path]:
    """customers.parquet, customers.csv and customers_per_period.csv under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "customers.parquet", out_dir / "customers.csv"]
    store.export_query("SELECT * FROM customers ORDER BY defection_risk DESC, customer_id", paths[0],
                       ExportFormat.PARQUET)
    store.export_query("SELECT * EXCLUDE (risk_reasons, open_jobs), array_to_string(open_jobs, '; ') AS open_jobs, "
                       "array_to_string(risk_reasons, '; ') AS risk_reasons FROM customers "
                       "ORDER BY defection_risk DESC, customer_id", paths[1], ExportFormat.CSV)
    periods = out_dir / "customers_per_period.csv"
    store.execute(queries.CONTACTS_SQL)
    store.export_query(f"SELECT date_trunc('{period}', ts) AS period, count(DISTINCT customer_id) AS "
                       f"unique_customers, count(*) AS contacts FROM _contacts GROUP BY ALL ORDER BY period",
                       periods, ExportFormat.CSV)
    return paths + [periods]


def records(store: Store, at_risk_only: bool = False, top: int | None = None) -> list[CustomerRecord]:
    """The stored customers as ``CustomerRecord``s, riskiest (then most valuable) first."""
    return [CustomerRecord(
        customer_id=r.customer_id, contacts=r.contacts,
        first_contact=str(r.first_contact) if r.first_contact else None,
        last_contact=str(r.last_contact) if r.last_contact else None,
        repeat_contacts=r.repeat_contacts, open_jobs=tuple(r.open_jobs or ()),
        emotion_trend=r.emotion_trend, preventable_contacts=r.preventable_contacts,
        defection_risk=r.defection_risk, risk_reasons=tuple(r.risk_reasons or ()),
        value=r.value, value_at_risk=r.value_at_risk, value_rescued=r.value_rescued,
    ) for r in queries.customers(store, at_risk_only, top)]
