"""Read-only queries over the store's tables that other packages share, as typed rows."""

from __future__ import annotations

from dataclasses import dataclass

from wocas.kinds import SignalKind
from wocas.store.rows import CallSummary, CustomerRow, RiskTotals, RunRow, from_row
from wocas.store.store import Store

CALL_SUMMARY_COLUMNS = ("call_id, kind, status, customer_id, agent_id, started_at, duration, contact_reason, "
                        "preventable, trajectory_shape, trust_opening, trust_closing, satisfaction_score, "
                        "p_satisfied, satisfaction_band, metadata")


# ---- one definition of each figure -----------------------------------------------------------
# The customer roll-up (``wocas.analytics.customers``), the report, ``wocas customers`` and the
# review app all read repeats and call outcomes from the SQL below, never from a copy of it.

_TRUE = "('true', '1', 'yes', 'y')"
_FALSE = "('false', '0', 'no', 'n')"
OPEN_CONFIDENCE = 0.4  # a resolution read with less confidence than this does not open an issue
_SQL_OPEN = "'unresolved', 'customer_gave_up'"
_SQL_UNRESOLVED = ", ".join(f"'{k}'" for k in SignalKind.UNRESOLVED_END.spellings())
DEFECTION_KINDS = (SignalKind.CANCEL_INTENT, SignalKind.THREAT_TO_LEAVE, SignalKind.COMPETITOR,
                   SignalKind.LEGAL_THREAT)
_SQL_DEFECTION = ", ".join(f"'{s}'" for k in DEFECTION_KINDS for s in k.spellings())
_SQL_SAID_REPEAT = ", ".join(f"'{s}'" for s in SignalKind.REPEAT_CONTACT.spellings())

# One row per analysed contact of a known customer, in order (``n``), with its reasons.
CONTACTS_SQL = f"""
CREATE OR REPLACE TEMP VIEW _contacts AS
WITH sig AS (
    SELECT call_id, bool_or(kind IN ({_SQL_UNRESOLVED})) AS unresolved,
           bool_or(kind = 'complaint') AS complaint
    FROM signals GROUP BY call_id
), job AS (
    SELECT call_id, list(DISTINCT reason) FILTER (WHERE reason IS NOT NULL AND reason <> 'other') AS reasons,
           bool_or(preventable) AS preventable
    FROM jobs GROUP BY call_id
), base AS (
    SELECT c.call_id, c.customer_id,
        COALESCE(TRY_CAST(c.started_at AS TIMESTAMP),
                 TRY_CAST(TRY_CAST(c.started_at AS TIMESTAMPTZ) AS TIMESTAMP), c.processed_at) AS ts,
        COALESCE(c.metadata->>'channel', CASE c.kind WHEN 'audio' THEN 'voice' ELSE 'text' END) AS channel,
        NULLIF(c.contact_reason, 'other') AS reason,
        -- the CRM's own reason code, kept beside the detected one: either may match a later call
        COALESCE(c.metadata->>'contact_reason', c.metadata->>'reason', c.metadata->>'disposition') AS crm_reason,
        TRY_CAST(c.metadata->>'days_since_previous_contact' AS DOUBLE) AS crm_days_since,
        job.reasons AS job_reasons,
        COALESCE(c.preventable, job.preventable, false) AS preventable,
        COALESCE(sig.unresolved, false)
            OR COALESCE(lower(c.metadata->>'resolved') IN {_FALSE}, false)
            OR COALESCE(c.resolution IN ({_SQL_OPEN}) AND c.resolution_confidence >= {OPEN_CONFIDENCE}, false)
            AS unresolved,
        c.resolution, c.resolution_confidence, c.record->'resolution'->>'quote' AS resolution_quote,
        COALESCE(sig.complaint, false) AS complaint,
        COALESCE(lower(c.metadata->>'complaint_logged') IN {_TRUE}, false)
            OR COALESCE(lower(c.metadata->>'disposition') LIKE '%complaint%', false)
            OR COALESCE(lower(c.metadata->>'contact_reason') LIKE '%complaint%', false) AS complaint_logged,
        c.trust_opening, c.trust_closing, c.trajectory_shape, c.satisfaction_score, c.p_satisfied,
        TRY_CAST(COALESCE(c.metadata->>'customer_value', c.metadata->>'value') AS DOUBLE) AS value
    FROM calls c LEFT JOIN sig USING (call_id) LEFT JOIN job USING (call_id)
    WHERE c.status = 'ok' AND c.customer_id IS NOT NULL AND c.customer_id <> ''
)
SELECT *,
    list_filter(list_distinct(list_concat(COALESCE(job_reasons, []), [reason, crm_reason])),
                lambda x: x IS NOT NULL) AS reasons,
    row_number() OVER (PARTITION BY customer_id ORDER BY ts, call_id) AS n,
    -- the emotion a contact ended on: the customer's closing trust, else the predicted CSAT on [-1, 1]
    COALESCE(trust_closing, (satisfaction_score - 3) / 2) AS emotion
FROM base
"""

# THE repeat rule. A contact is a repeat when the same customer contacted within the window
# before it:
#  1. an earlier contact in the store, at most ``window_days`` before, about a same reason
#     (detected or the CRM's), or left unresolved, or the customer says in this contact that
#     they called before (the ``repeat_contact`` signal says it is the same problem);
#  2. or the CRM's ``days_since_previous_contact`` is within the window (a contact the store
#     does not hold);
#  3. or, when neither the store nor the CRM knows of an earlier contact, the customer says
#     they called before: their word is the only evidence. When the store does hold their
#     previous contact and it lies outside the window, what they say does not make a repeat.
REPEATS_SQL = f"""
CREATE OR REPLACE TEMP VIEW _repeats AS
WITH said AS (
    SELECT call_id, arg_max(quote, strength) AS said_quote FROM signals
    WHERE kind IN ({_SQL_SAID_REPEAT}) GROUP BY call_id
), matched AS (
    SELECT c.call_id, c.customer_id, c.ts, c.n, c.crm_days_since, said.call_id IS NOT NULL AS said,
        said.said_quote,
        (SELECT p.call_id FROM _contacts p
         WHERE p.customer_id = c.customer_id AND p.n < c.n
           AND epoch(c.ts) - epoch(p.ts) <= {{window_days}} * 86400
           AND (list_has_any(p.reasons, c.reasons) OR p.unresolved OR said.call_id IS NOT NULL)
         ORDER BY p.n DESC LIMIT 1) AS repeat_of,
        lag(c.ts) OVER (PARTITION BY c.customer_id ORDER BY c.n) AS previous_ts
    FROM _contacts c LEFT JOIN said USING (call_id)
)
SELECT call_id, customer_id, ts, repeat_of, said, said_quote, crm_days_since,
    CASE WHEN repeat_of IS NOT NULL THEN 'earlier_contact'
         WHEN crm_days_since <= {{window_days}} THEN 'crm'
         WHEN said AND previous_ts IS NULL AND crm_days_since IS NULL THEN 'customer_said'
    END AS evidence,
    evidence IS NOT NULL AS is_repeat
FROM matched
"""

# THE call outcome. A call RECOVERED when the customer opened frustrated (trust at or under
# ``rescue_from``), closed at ease (at or over ``rescue_to``) and did not speak of leaving: their
# own closing words are the evidence, and they outweigh a predicted P(satisfied) under the
# threshold. A call LEFT THE CUSTOMER AT RISK when they spoke of leaving (a defection signal), or
# were predicted unsatisfied (P(satisfied) under the threshold; without a prediction, closing
# trust under 0) and the call did not recover. A call HELPED when it recovered or was predicted
# satisfied, without a defection signal. So a call is never both recovered and left at risk, and
# helped / left at risk / unknown split the calls. The trust curve's shape (``trajectory_shape``)
# describes the curve only; it is not the outcome.
OUTCOMES_SQL = f"""
CREATE OR REPLACE TEMP VIEW _call_outcomes AS
WITH sig AS (
    SELECT call_id, bool_or(kind IN ({_SQL_DEFECTION})) AS defection FROM signals GROUP BY call_id
), judged AS (
    SELECT c.call_id, NULLIF(c.customer_id, '') AS customer_id,
        COALESCE(TRY_CAST(c.started_at AS TIMESTAMP),
                 TRY_CAST(TRY_CAST(c.started_at AS TIMESTAMPTZ) AS TIMESTAMP), c.processed_at) AS ts,
        CASE WHEN c.p_satisfied IS NOT NULL THEN c.p_satisfied >= {{satisfied}}
             WHEN c.trust_closing IS NOT NULL THEN c.trust_closing >= 0 END AS satisfied,
        COALESCE(sig.defection, false) AS defection,
        COALESCE(c.trust_opening <= {{rescue_from}} AND c.trust_closing >= {{rescue_to}}, false) AS turned
    FROM calls c LEFT JOIN sig USING (call_id) WHERE c.status = 'ok'
), outcome AS (
    SELECT *, turned AND NOT defection AS recovered FROM judged
)
SELECT call_id, customer_id, ts, satisfied, defection, recovered,
    defection OR (COALESCE(NOT satisfied, false) AND NOT recovered) AS left_at_risk,
    NOT defection AND (recovered OR COALESCE(satisfied, false)) AS helped
FROM outcome
"""


@dataclass(frozen=True)
class Thresholds:
    """The settings the definitions read: ``[customers] repeat_window_days``, ``rescue_from``,
    ``rescue_to`` and ``[insights] satisfied_threshold``."""

    repeat_window_days: float = 7.0
    rescue_from: float = -0.2
    rescue_to: float = 0.2
    satisfied: float = 0.5

    @classmethod
    def of(cls, config) -> "Thresholds":  # a wocas.config.Config
        c = config.customers
        return cls(float(c.repeat_window_days), float(c.rescue_from), float(c.rescue_to),
                   float(config.insights.satisfied_threshold))


def define_views(store: Store, thresholds: Thresholds) -> None:
    """Create the ``_contacts``, ``_repeats`` and ``_call_outcomes`` temp views on this connection."""
    t = thresholds
    store.execute(CONTACTS_SQL)
    store.execute(REPEATS_SQL.format(window_days=float(t.repeat_window_days)))
    store.execute(OUTCOMES_SQL.format(satisfied=float(t.satisfied), rescue_from=float(t.rescue_from),
                                      rescue_to=float(t.rescue_to)))


def repeats(store: Store, thresholds: Thresholds, customer_id: str | None = None) -> dict[str, dict]:
    """call_id -> why it is a repeat (``evidence``, ``repeat_of``, ``said_quote``,
    ``crm_days_since``), for the repeat contacts (of one customer when given)."""
    define_views(store, thresholds)
    where, params = ("AND customer_id = ?", [customer_id]) if customer_id is not None else ("", [])
    found = store.query(f"SELECT call_id, customer_id, evidence, repeat_of, said_quote, crm_days_since "
                        f"FROM _repeats WHERE is_repeat {where} ORDER BY ts, call_id", params)
    return {r["call_id"]: r for r in found}


def call_outcomes(store: Store, thresholds: Thresholds, customer_id: str | None = None) -> dict[str, dict]:
    """call_id -> {recovered, left_at_risk, helped, satisfied, defection} for every analysed call."""
    define_views(store, thresholds)
    where, params = ("WHERE customer_id = ?", [customer_id]) if customer_id is not None else ("", [])
    found = store.query(f"SELECT call_id, recovered, left_at_risk, helped, satisfied, defection FROM _call_outcomes "
                        f"{where} ORDER BY ts, call_id", params)
    return {r["call_id"]: r for r in found}


# Each QA flag kind on the analysed calls, with what reviewers said of it: the latest verdict per
# (call, flag) that the runs copied from the review app (``wocas.store.verdicts``). A verdict on a
# flag the call no longer carries (re-analysed since) does not count.
FLAG_REVIEWS_SQL = """
WITH raised AS (SELECT call_id, unnest(flags) AS flag FROM calls WHERE status = 'ok'),
latest AS (
    SELECT call_id, flag, verdict FROM (
        SELECT call_id, flag, verdict,
               row_number() OVER (PARTITION BY call_id, flag ORDER BY created_at DESC, id DESC) AS n
        FROM verdicts) WHERE n = 1
)
SELECT raised.flag, count(*) AS calls, count(latest.verdict) AS reviewed,
       count(*) FILTER (WHERE latest.verdict = 'confirm') AS confirmed,
       count(*) FILTER (WHERE latest.verdict = 'reject') AS rejected
FROM raised LEFT JOIN latest USING (call_id, flag)
GROUP BY raised.flag ORDER BY calls DESC, raised.flag
"""


def flag_reviews(store: Store) -> list[dict]:
    """Per QA flag kind: calls flagged, and of those how many reviewers confirmed or rejected."""
    return store.query(FLAG_REVIEWS_SQL)


def runs(store: Store) -> list[RunRow]:
    """Every run, newest first."""
    return [from_row(RunRow, r) for r in store.query("SELECT * FROM runs ORDER BY started_at DESC")]


def call_summaries(store: Store, customer_id: str | None = None) -> list[CallSummary]:
    """The stored calls (of one customer when given), oldest first."""
    where, params = ("WHERE customer_id = ?", [customer_id]) if customer_id is not None else ("", [])
    found = store.query(f"SELECT {CALL_SUMMARY_COLUMNS} FROM calls {where} "
                        "ORDER BY started_at NULLS LAST, call_id", params)
    return [from_row(CallSummary, r) for r in found]


def satisfaction_scores(store: Store, call_ids: list[str]) -> dict[str, float]:
    """call_id -> predicted satisfaction (1-5), for the given calls that have one."""
    found = store.query("SELECT call_id, satisfaction_score FROM calls WHERE call_id IN (SELECT UNNEST(?)) "
                        "AND satisfaction_score IS NOT NULL ORDER BY call_id", [list(call_ids)])
    return {r["call_id"]: r["satisfaction_score"] for r in found}


def customers(store: Store, at_risk_only: bool = False, top: int | None = None) -> list[CustomerRow]:
    """The customers table, riskiest (then most valuable) first."""
    where = "WHERE at_risk" if at_risk_only else ""
    limit = f"LIMIT {int(top)}" if top else ""
    found = store.query(f"SELECT * FROM customers {where} "
                        f"ORDER BY defection_risk DESC, value_at_risk DESC NULLS LAST, customer_id {limit}")
    return [from_row(CustomerRow, r) for r in found]


def customer(store: Store, customer_id: str) -> CustomerRow | None:
    found = store.query("SELECT * FROM customers WHERE customer_id = ?", [customer_id])
    return from_row(CustomerRow, found[0]) if found else None


def customer_count(store: Store) -> int:
    return int(store.scalar("SELECT count(*) FROM customers"))


def risk_totals(store: Store) -> RiskTotals:
    """The one definition of the headline figures: customers at risk (the roll-up's ``at_risk``,
    risk at or over ``[customers] at_risk_threshold``) and value at risk, summed over those
    customers only (a customer below the threshold puts no value at risk); repeat contacts and
    recovered calls as the roll-up counted them with ``REPEATS_SQL`` and ``OUTCOMES_SQL``."""
    found = store.query("SELECT count(*) FILTER (WHERE at_risk) AS at_risk, "
                        "sum(value_at_risk) FILTER (WHERE at_risk) AS value_at_risk, "
                        "sum(value_rescued) AS value_rescued, count(*) AS customers, "
                        "COALESCE(sum(repeat_contacts), 0) AS repeat_contacts, "
                        "COALESCE(sum(rescued_calls), 0) AS recovered_calls FROM customers")[0]
    return from_row(RiskTotals, found)


def table_columns() -> dict[str, list[tuple[str, str]]]:
    """Every store table's (column, DuckDB type), from the DDL the store creates (``wocas schema``)."""
    import duckdb

    from wocas.store import schema as store_schema

    con = duckdb.connect(":memory:")
    try:
        for ddl in store_schema.TABLES.values():
            con.execute(ddl)
        return {name: [(c[1], c[2]) for c in con.execute(f"PRAGMA table_info('{name}')").fetchall()]
                for name in sorted(store_schema.TABLES)}
    finally:
        con.close()

