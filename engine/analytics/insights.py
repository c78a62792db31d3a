"""Insights that change the business, as DuckDB SQL over the store.

Four views, each rebuilt from the call tables into ``insights_*`` / ``alerts`` tables:

- **customers, not transactions** per period: unique customers who made contact, how many
  were helped to their (predicted) satisfaction, how many were left at risk, heavy against
  light users and what each group calls about, contacts per customer;
- **charge-back**: every preventable contact costs ``cost_per_contact`` plus
  ``cost_per_minute`` × handle time, charged to the function that owns its reason, per
  period, with the change on the period before, the top reasons and example quotes;
- **early warning**: per reason, each day's count against the same reason's trailing
  baseline (median and MAD of the ``baseline_days`` before it). A day is a spike when its
  robust z-score, its Poisson tail probability under the baseline mean and its count all pass
  their thresholds; consecutive spike days make one alert with its start, size and quotes.
  Statements that matched no reason are clustered (``wocas.reasons.clustering.discover_reasons``) and a
  cluster that grows night over night is raised as an emerging reason;
- **agents**: per agent, the share of frustrated openings that ended in trust, sales pitched
  to frustrated customers, and the calls worth listening to. For self-coaching: agents are
  listed by id, never ranked.

Every column the pipeline may leave empty (no emotion stage, no satisfaction, no jobs) is
read through COALESCE or a fallback, so a thinner store gives thinner reports, not errors.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from wocas.config import Config, InsightsConfig
from wocas.kinds import SignalKind
from wocas.store import Store, queries

log = logging.getLogger(__name__)

PERIODS = ("day", "week", "month")
# Plain-string tuples: their repr is the SQL list the queries below splice in.
DEFECTION_KINDS = tuple(k.value for k in (SignalKind.CANCEL_INTENT, SignalKind.THREAT_TO_LEAVE,
                                          SignalKind.COMPETITOR, SignalKind.LEGAL_THREAT))
SALE_KINDS = SignalKind.SALE_ON_LOW_TRUST.spellings()  # old stores spelt it sale_to_frustrated
N_EXAMPLES = 3

_TS = ("COALESCE(TRY_CAST(c.started_at AS TIMESTAMP), "
       "TRY_CAST(TRY_CAST(c.started_at AS TIMESTAMPTZ) AS TIMESTAMP), c.processed_at)")

# One row per analysed call with everything the reports read, empty columns made safe;
# a temp table, not a view, so the joins run once for all the reports.
CALLS_VIEW = f"""
CREATE OR REPLACE TEMP TABLE _ins_calls AS
WITH job AS (
    SELECT call_id,
        arg_min(reason, idx) FILTER (WHERE preventable) AS prev_reason,
        arg_min(owner, idx) FILTER (WHERE preventable) AS prev_owner,
        arg_min(statement, idx) FILTER (WHERE preventable) AS prev_statement,
        arg_min(owner, idx) AS first_owner,
        arg_min(statement, idx) AS first_statement
    FROM jobs GROUP BY call_id
), sig AS (
    SELECT call_id,
        bool_or(kind IN {DEFECTION_KINDS}) AS defection,
        bool_or(kind IN {SALE_KINDS}) AS sale_to_frustrated,
        arg_max(quote, strength) FILTER (WHERE kind IN {SALE_KINDS}) AS sale_quote
    FROM signals GROUP BY call_id
), closing AS (
    SELECT call_id, arg_max(text, idx) AS last_words FROM turns WHERE role = 'customer' GROUP BY call_id
)
SELECT c.call_id, c.customer_id, c.agent_id, {_TS} AS ts, CAST({_TS} AS DATE) AS day,
    COALESCE(c.contact_reason, c.metadata->>'contact_reason', c.metadata->>'reason') AS reason,
    COALESCE(c.preventable, false) AS preventable,
    COALESCE(job.prev_reason, c.contact_reason, c.metadata->>'contact_reason') AS charged_reason,
    COALESCE(job.prev_owner, job.first_owner, 'unassigned') AS owner,
    COALESCE(job.prev_statement, job.first_statement) AS quote,
    -- a call whose times are estimated (a chat without times) has no duration to charge
    CASE WHEN json_extract_string(c.record, '$.call.timing') = 'estimated' THEN 0.0
         ELSE greatest(COALESCE(c.handle_time, c.duration, 0.0), 0.0) END AS handle_seconds,
    c.trust_opening, c.trust_closing, c.turnaround, c.trajectory_shape, c.p_satisfied, c.satisfaction_score,
    COALESCE(sig.defection, false) AS defection,
    COALESCE(sig.sale_to_frustrated, false) AS sale_to_frustrated, sig.sale_quote, closing.last_words,
    o.satisfied, o.left_at_risk, o.recovered, o.helped
FROM calls c LEFT JOIN job USING (call_id) LEFT JOIN sig USING (call_id) LEFT JOIN closing USING (call_id)
    LEFT JOIN _call_outcomes o USING (call_id)
WHERE c.status = 'ok'
"""

# Per customer per period, from the store's call outcomes (queries.OUTCOMES_SQL): helped when their
# last contact in the period helped (recovered, or predicted satisfied) and they never spoke of
# leaving in the period; left at risk when that last contact left them at risk or they spoke of
# leaving in the period; otherwise unknown.
CUSTOMER_PERIODS_SQL = """
WITH usage AS (
    SELECT customer_id, CASE WHEN count(*) >= $heavy THEN 'heavy' ELSE 'light' END AS usage
    FROM _ins_calls WHERE customer_id IS NOT NULL AND customer_id <> '' GROUP BY customer_id
), per AS (
    SELECT CAST(date_trunc($period, ts) AS DATE) AS period, customer_id, count(*) AS contacts,
        arg_max(helped, ts) AS helped, arg_max(left_at_risk, ts) AS left_at_risk,
        bool_or(defection) AS defection
    FROM _ins_calls WHERE customer_id IS NOT NULL AND customer_id <> '' GROUP BY ALL
)
SELECT $period AS period_kind, period, count(*) AS customers, sum(contacts)::INTEGER AS contacts,
    round(sum(contacts) / count(*), 3) AS contacts_per_customer,
    count(*) FILTER (WHERE helped AND NOT defection) AS helped,
    count(*) FILTER (WHERE left_at_risk OR defection) AS at_risk,
    count(*) FILTER (WHERE NOT helped AND NOT left_at_risk AND NOT defection) AS outcome_unknown,
    count(*) FILTER (WHERE usage = 'heavy') AS heavy_customers,
    count(*) FILTER (WHERE usage = 'light') AS light_customers,
    COALESCE(sum(contacts) FILTER (WHERE usage = 'heavy'), 0)::INTEGER AS heavy_contacts,
    COALESCE(sum(contacts) FILTER (WHERE usage = 'light'), 0)::INTEGER AS light_contacts,
    now()::TIMESTAMP AS updated_at
FROM per JOIN usage USING (customer_id)
GROUP BY period ORDER BY period
"""

USAGE_REASONS_SQL = """
WITH usage AS (
    SELECT customer_id, CASE WHEN count(*) >= $heavy THEN 'heavy' ELSE 'light' END AS usage
    FROM _ins_calls WHERE customer_id IS NOT NULL AND customer_id <> '' GROUP BY customer_id
), counted AS (
    SELECT CAST(date_trunc($period, ts) AS DATE) AS period, usage, COALESCE(reason, 'unknown') AS reason,
        count(*) AS contacts, count(DISTINCT customer_id) AS customers
    FROM _ins_calls JOIN usage USING (customer_id) GROUP BY ALL
)
SELECT $period AS period_kind, period, usage, reason, contacts, customers, rank FROM (
    SELECT *, row_number() OVER (PARTITION BY period, usage ORDER BY contacts DESC, reason) AS rank FROM counted
) WHERE rank <= $top ORDER BY period, usage, rank
"""

CHARGEBACK_SQL = """
WITH per AS (
    SELECT CAST(date_trunc($period, ts) AS DATE) AS period, owner, count(*) AS contacts,
        sum(handle_seconds) / 60 AS minutes
    FROM _ins_calls WHERE preventable GROUP BY ALL
), totals AS (
    SELECT CAST(date_trunc($period, ts) AS DATE) AS period, count(*) AS all_contacts FROM _ins_calls GROUP BY ALL
), costed AS (
    SELECT period, owner, contacts, round(minutes, 2) AS minutes,
        round(contacts * $per_contact + minutes * $per_minute, 2) AS cost
    FROM per
)
SELECT $period AS period_kind, period, owner, contacts, minutes, cost,
    lag(cost) OVER (PARTITION BY owner ORDER BY period) AS previous_cost,
    round(cost - lag(cost) OVER (PARTITION BY owner ORDER BY period), 2) AS change,
    round(contacts / all_contacts, 4) AS share_of_contacts
FROM costed JOIN totals USING (period)
ORDER BY period, cost DESC, owner
"""

CHARGEBACK_REASONS_SQL = """
WITH per AS (
    SELECT owner, COALESCE(charged_reason, 'unknown') AS reason, count(*) AS contacts,
        sum(handle_seconds) / 60 AS minutes,
        list(quote ORDER BY length(quote) DESC NULLS LAST, call_id) FILTER (WHERE quote IS NOT NULL) AS quotes,
        list(call_id ORDER BY length(quote) DESC NULLS LAST, call_id) FILTER (WHERE quote IS NOT NULL) AS ids
    FROM _ins_calls WHERE preventable GROUP BY ALL
)
SELECT owner, reason, contacts, round(minutes, 2) AS minutes,
    round(contacts * $per_contact + minutes * $per_minute, 2) AS cost,
    quotes[1:50] AS examples, ids[1:50] AS call_ids,
    row_number() OVER (PARTITION BY owner ORDER BY contacts * $per_contact + minutes * $per_minute DESC, reason) AS rank
FROM per ORDER BY owner, rank
"""

# A dense reason × day grid, each day with the trailing baseline of the same reason.
DAILY_SQL = """
WITH bounds AS (SELECT min(day) AS first, max(day) AS last FROM _ins_calls),
days AS (SELECT CAST(unnest(generate_series(first, last, INTERVAL 1 DAY)) AS DATE) AS day FROM bounds),
reasons AS (SELECT DISTINCT reason FROM _ins_calls WHERE reason IS NOT NULL),
counts AS (SELECT reason, day, count(*) AS n FROM _ins_calls WHERE reason IS NOT NULL GROUP BY ALL),
grid AS (
    SELECT r.reason, d.day, COALESCE(c.n, 0) AS n
    FROM reasons r CROSS JOIN days d LEFT JOIN counts c ON c.reason = r.reason AND c.day = d.day
)
SELECT reason, day, n,
    count(*) OVER w AS base_days,
    median(n) OVER w AS base_median,
    mad(n) OVER w AS base_mad,
    avg(n) OVER w AS base_mean
FROM grid
WINDOW w AS (PARTITION BY reason ORDER BY day ROWS BETWEEN {window} PRECEDING AND 1 PRECEDING)
ORDER BY reason, day
"""

AGENTS_SQL = """
SELECT agent_id, count(*) AS calls,
    count(*) FILTER (WHERE trust_opening <= $rescue_from) AS frustrated,
    count(*) FILTER (WHERE trust_opening <= $rescue_from AND trust_closing >= $rescue_to) AS turned,
    round(count(*) FILTER (WHERE trust_opening <= $rescue_from AND trust_closing >= $rescue_to)
          / nullif(count(*) FILTER (WHERE trust_opening <= $rescue_from), 0), 4) AS share_turned,
    count(*) FILTER (WHERE sale_to_frustrated) AS sales_to_frustrated,
    count(*) FILTER (WHERE trajectory_shape = 'recovered') AS recovered,
    count(*) FILTER (WHERE trajectory_shape = 'deteriorated') AS deteriorated,
    round(avg(turnaround), 4) AS mean_turnaround
FROM _ins_calls WHERE agent_id IS NOT NULL AND agent_id <> ''
GROUP BY agent_id ORDER BY agent_id
"""

# Calls worth listening to: what worked, what went wrong, and a pitch to a frustrated customer.
LISTEN_SQL = """
WITH candidates AS (
    SELECT agent_id, call_id, 'turned frustration into trust' AS why, turnaround AS score, last_words AS quote
    FROM _ins_calls WHERE trust_opening <= $rescue_from AND trust_closing >= $rescue_to
    UNION ALL
    SELECT agent_id, call_id, 'the customer ended more frustrated than they began', -turnaround, last_words
    FROM _ins_calls WHERE trajectory_shape = 'deteriorated' OR (turnaround <= -0.4 AND trust_closing < 0)
    UNION ALL
    SELECT agent_id, call_id, 'a sale was pitched while the customer was frustrated', 1.0, sale_quote
    FROM _ins_calls WHERE sale_to_frustrated
)
SELECT agent_id, call_id, why, round(score, 3) AS score, quote FROM (
    SELECT *, row_number() OVER (PARTITION BY agent_id, why ORDER BY score DESC NULLS LAST, call_id) AS rn
    FROM candidates WHERE agent_id IS NOT NULL AND agent_id <> ''
) WHERE rn <= $per_kind ORDER BY agent_id, why, rn
"""


@dataclass
class Insights:
    period: str
    customers: list[dict[str, Any]] = field(default_factory=list)
    usage: list[dict[str, Any]] = field(default_factory=list)
    chargeback: list[dict[str, Any]] = field(default_factory=list)
    chargeback_reasons: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    daily: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # reason -> rows of the grid
    agents: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)

    @property
    def active_alerts(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["active"]]


def _check_period(period: str) -> str:
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    return period


def _params(sql: str, values: dict[str, Any]) -> dict[str, Any]:
    """Only the named parameters a statement uses (DuckDB refuses unused ones)."""
    return {k: v for k, v in values.items() if f"${k}" in sql}


def _q(store: Store, sql: str, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return store.query(sql, _params(sql, values or {}))


def compute(store: Store, config: Config | None = None, period: str = "week",
            emerging: bool = True) -> Insights:
    """Every insight over every analysed call in the store (nothing written)."""
    config = config or Config()
    ins_cfg = config.insights
    values = {
        "period": _check_period(period), "heavy": config.customers.heavy_user_contacts,
        "satisfied": ins_cfg.satisfied_threshold, "top": 5, "per_contact": ins_cfg.cost_per_contact,
        "per_minute": ins_cfg.cost_per_minute, "examples": N_EXAMPLES,
        "rescue_from": config.customers.rescue_from, "rescue_to": config.customers.rescue_to, "per_kind": 1,
    }
    queries.define_views(store, queries.Thresholds.of(config))
    store.execute(CALLS_VIEW)
    out = Insights(period=period)
    out.customers = _q(store, CUSTOMER_PERIODS_SQL, values)
    out.usage = _q(store, USAGE_REASONS_SQL, values)
    out.chargeback = _q(store, CHARGEBACK_SQL, values)
    out.chargeback_reasons = [_distinct_examples(r) for r in _q(store, CHARGEBACK_REASONS_SQL, values)]
    out.agents = _agents(store, values)
    spikes, out.daily = _spikes(store, ins_cfg)
    out.alerts = spikes + (_emerging(store, ins_cfg) if emerging else [])
    out.totals = _totals(store, values)
    return out


def _distinct_examples(row: dict[str, Any]) -> dict[str, Any]:
    """Keep the first few different quotes, each with the call it came from."""
    quotes, ids = [], []
    for quote, call_id in zip(row["examples"] or [], row["call_ids"] or []):
        if quote not in quotes and len(quotes) < N_EXAMPLES:
            quotes.append(quote)
            ids.append(call_id)
    return {**row, "examples": quotes, "call_ids": ids}


def _totals(store: Store, values: dict[str, Any]) -> dict[str, Any]:
    row = _q(store, """
        SELECT count(*) AS contacts, count(DISTINCT customer_id) AS customers,
            count(*) FILTER (WHERE preventable) AS preventable,
            COALESCE(sum(handle_seconds) FILTER (WHERE preventable), 0) / 60 AS preventable_minutes,
            count(*) FILTER (WHERE left_at_risk) AS calls_left_at_risk,
            min(day) AS first_day, max(day) AS last_day
        FROM _ins_calls""")[0]
    row["preventable_cost"] = round(row["preventable"] * values["per_contact"]
                                    + row["preventable_minutes"] * values["per_minute"], 2)
    risk = queries.risk_totals(store)
    row.update(customers_at_risk_now=risk.at_risk, value_at_risk=risk.value_at_risk,
               value_rescued=risk.value_rescued, customer_records=risk.customers,
               repeat_contacts=risk.repeat_contacts, recovered_calls=risk.recovered_calls)
    return row


def _agents(store: Store, values: dict[str, Any]) -> list[dict[str, Any]]:
    agents = _q(store, AGENTS_SQL, values)
    listen: dict[str, list[dict[str, Any]]] = {}
    for row in _q(store, LISTEN_SQL, values):
        listen.setdefault(row["agent_id"], []).append(
            {"call_id": row["call_id"], "why": row["why"], "quote": row["quote"]})
    for a in agents:
        a["listen"] = listen.get(a["agent_id"], [])
    return agents


# ---- early warning -----------------------------------------------------------------------
def poisson_tail(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean): how surprising k contacts are on a day like the baseline."""
    if k <= 0:
        return 1.0
    from scipy.stats import poisson

    return float(poisson.sf(k - 1, max(mean, 1e-12)))


def robust_z(n: float, median: float, mad: float, mean: float) -> float:
    """(n - median) / scale, with the scale at least the Poisson s.d. and at least one contact,
    so a reason that is usually zero does not spike on a single call."""
    scale = max(1.4826 * (mad or 0.0), math.sqrt(max(mean or 0.0, 0.0)), 1.0)
    return (n - (median or 0.0)) / scale


def _spikes(store: Store, cfg: InsightsConfig) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    grid = _q(store, DAILY_SQL.format(window=int(cfg.baseline_days)))
    daily: dict[str, list[dict[str, Any]]] = {}
    for row in grid:
        daily.setdefault(row["reason"], []).append(row)
    last_day = max((r["day"] for r in grid), default=None)
    alerts = []
    for reason, rows in daily.items():
        episode: list[dict[str, Any]] = []
        for row in rows + [None]:  # a sentinel closes the last episode
            flagged = row is not None and _is_spike(row, cfg)
            if flagged:
                episode.append(row)
            elif episode:
                alerts.append(_spike_alert(reason, episode, last_day, cfg))
                episode = []
    _attach_examples(store, alerts)
    alerts.sort(key=lambda a: (not a["active"], -a["excess"], a["reason"]))
    return alerts, daily


def _is_spike(row: dict[str, Any], cfg: InsightsConfig) -> bool:
    if row["base_days"] < cfg.min_baseline_days or row["n"] < cfg.spike_min_count:
        return False
    row["z"] = robust_z(row["n"], row["base_median"], row["base_mad"], row["base_mean"])
    if row["z"] < cfg.spike_z:
        return False
    # A reason never seen in the window still has a small chance a day: half a contact per window.
    row["p_value"] = poisson_tail(int(row["n"]), max(row["base_mean"] or 0.0, 0.5 / max(row["base_days"], 1)))
    return row["p_value"] <= cfg.spike_p


def _spike_alert(reason: str, episode: list[dict[str, Any]], last_day: date | None,
                 cfg: InsightsConfig) -> dict[str, Any]:
    count = int(sum(r["n"] for r in episode))
    expected = float(sum(r["base_mean"] or 0.0 for r in episode))
    start, end = episode[0]["day"], episode[-1]["day"]
    return {
        "alert_id": f"spike:{reason}:{start.isoformat()}", "kind": "spike", "reason": reason, "owner": None,
        "start_day": start, "end_day": end, "days": len(episode), "count": count,
        "expected": round(expected, 2), "excess": round(count - expected, 2),
        "ratio": round(count / expected, 2) if expected > 0 else None,
        "z": round(max(r["z"] for r in episode), 2), "p_value": min(r["p_value"] for r in episode),
        "active": last_day is not None and end >= last_day - timedelta(days=cfg.recent_days - 1),
        "examples": [], "call_ids": [],
        "daily": json.dumps([[r["day"].isoformat(), int(r["n"]), round(r["base_mean"] or 0.0, 2)] for r in episode]),
    }


def _attach_examples(store: Store, alerts: list[dict[str, Any]]) -> None:
    """Quotes of the customers behind each spike, and the owner of the reason."""
    for a in alerts:
        rows = _q(store, """
            SELECT call_id, quote, owner FROM _ins_calls
            WHERE reason = $reason AND day BETWEEN $start AND $end
            ORDER BY length(quote) DESC NULLS LAST, call_id LIMIT 50""",
                  {"reason": a["reason"], "start": a["start_day"], "end": a["end_day"]})
        quotes, ids = [], []
        for r in rows:
            if r["quote"] and r["quote"] not in quotes and len(quotes) < N_EXAMPLES:
                quotes.append(r["quote"])
                ids.append(r["call_id"])
        owners = [r["owner"] for r in rows if r["owner"] and r["owner"] != "unassigned"]
        a["examples"], a["call_ids"] = quotes, ids
        a["owner"] = max(set(owners), key=owners.count) if owners else None


def _emerging(store: Store, cfg: InsightsConfig) -> list[dict[str, Any]]:
    """Clusters of unmatched (``other``) statements whose daily count grows night over night."""
    rows = _q(store, """
        WITH last AS (SELECT max(day) AS d FROM _ins_calls)
        SELECT j.statement, c.day, c.call_id FROM jobs j JOIN _ins_calls c USING (call_id), last
        WHERE j.reason = 'other' AND j.statement IS NOT NULL AND c.day > last.d - $days
        ORDER BY c.ts DESC, c.call_id LIMIT $cap""", {"days": int(cfg.emerging_days), "cap": cfg.max_emerging_statements})
    if len(rows) < cfg.emerging_min_count:
        return []
    try:
        from wocas.reasons.clustering import discover_reasons

        clusters = discover_reasons([r["statement"] for r in rows], min_count=cfg.emerging_min_count)
    except Exception:  # discovery needs the sentence encoder; the other alerts stand without it
        log.exception("emerging-reason discovery failed; spikes are still reported")
        return []
    last_day = max(r["day"] for r in rows)
    nights = [last_day - timedelta(days=i) for i in reversed(range(cfg.emerging_nights))]
    alerts = []
    for cluster in clusters:
        members = [rows[i] for i in cluster.members]
        per_day = {d: sum(1 for m in members if m["day"] == d) for d in nights}
        counts = [per_day[d] for d in nights]
        growing = all(b >= a for a, b in zip(counts, counts[1:])) and counts[-1] > counts[0]
        if not growing or counts[-1] < cfg.emerging_min_count:
            continue
        first = min(m["day"] for m in members)
        alerts.append({
            "alert_id": f"emerging:{cluster.label}:{first.isoformat()}", "kind": "emerging",
            "reason": cluster.label, "owner": None, "start_day": first, "end_day": last_day,
            "days": (last_day - first).days + 1, "count": len(members), "expected": float(counts[0]),
            "excess": float(counts[-1] - counts[0]), "ratio": round(counts[-1] / counts[0], 2) if counts[0] else None,
            "z": None, "p_value": None, "active": True, "examples": list(cluster.examples),
            "call_ids": list(dict.fromkeys(m["call_id"] for m in members))[:N_EXAMPLES],
            "daily": json.dumps([[d.isoformat(), per_day[d], None] for d in nights]),
        })
    return alerts


# ---- the tables --------------------------------------------------------------------------
def save(store: Store, insights: Insights) -> None:
    """Replace the insight tables with this computation, in one transaction."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = {
        "insights_customers": insights.customers, "insights_usage": insights.usage,
        "insights_chargeback": insights.chargeback, "insights_chargeback_reasons": insights.chargeback_reasons,
        "alerts": [{**a, "raised_at": now} for a in insights.alerts],
        "insights_agents": [{**a, "listen": json.dumps(a["listen"])} for a in insights.agents],
    }
    with store.transaction():
        for table, data in rows.items():
            store.replace_table(table, data)


def refresh(store: Store, config: Config | None = None, period: str = "week", emerging: bool = True) -> Insights:
    """Compute every insight and store it (``insights_*`` and ``alerts`` tables)."""
    insights = compute(store, config, period, emerging)
    save(store, insights)
    log.info("insights: %d periods, %d owners charged, %d alerts (%d active), %d agents",
             len(insights.customers), len({c["owner"] for c in insights.chargeback}), len(insights.alerts),
             len(insights.active_alerts), len(insights.agents))
    return insights


def alert_lines(alerts: list[dict[str, Any]]) -> list[str]:
    """One plain line per alert, for the terminal and the run summary."""
    lines = []
    for a in alerts:
        if a["kind"] == "spike":
            size = f"{a['count']} contacts vs {a['expected']:.1f} expected" + (
                f" ({a['ratio']:.1f}x)" if a["ratio"] else "")
            head = (f"SPIKE {a['reason']}: {size}, from {a['start_day']} for {a['days']} day(s)"
                    + (f", owner {a['owner']}" if a["owner"] else ""))
        else:
            daily = json.loads(a["daily"])
            head = (f"EMERGING \"{a['reason']}\": {' -> '.join(str(d[1]) for d in daily)} contacts a night, "
                    f"{a['count']} since {a['start_day']}")
        quote = f'  e.g. "{a["examples"][0][:120]}"' if a["examples"] else ""
        lines.append(head + quote)
    return lines
