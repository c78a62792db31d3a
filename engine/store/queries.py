"""Read-only queries over the store's tables that other packages share, as typed rows."""

from __future__ import annotations

from wocas.store.rows import CallSummary, CustomerRow, RiskTotals, RunRow, from_row
from wocas.store.store import Store

CALL_SUMMARY_COLUMNS = ("call_id, kind, status, customer_id, agent_id, started_at, duration, contact_reason, "
                        "preventable, trajectory_shape, trust_opening, trust_closing, satisfaction_score, "
                        "p_satisfied, metadata")


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
    customers only (a customer below the threshold puts no value at risk)."""
    found = store.query("SELECT count(*) FILTER (WHERE at_risk) AS at_risk, "
                        "sum(value_at_risk) FILTER (WHERE at_risk) AS value_at_risk, "
                        "sum(value_rescued) AS value_rescued, count(*) AS customers FROM customers")[0]
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

