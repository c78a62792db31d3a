"""Every table of the store, its schema version, and the migrations from older versions.

Version 1 is what releases before the version table wrote: the call tables, ``customers`` and
``runs`` made when the store was opened, and the analytics tables (calibrations, outcomes,
insights, alerts, reviews) made by whichever command first needed them. Version 2 has the
same tables and columns, all made at once, and records its version in ``schema_meta``.
Version 3 adds the call's resolution (``resolution``, ``resolution_confidence``) to ``calls``.
Version 4 adds ``verdicts``: the review app's verdicts (kept in their own SQLite file), copied in
by each run so reports can join them with the calls. Version 5 adds the survey band the
predicted satisfaction stands for (``satisfaction_band``, low / mid / high) to ``calls``.

A migration is a function from one version to the next, run on the open connection inside
the transaction that also records the new version, so a store is upgraded all or not at all.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from wocas.errors import StoreError

SCHEMA_VERSION = 5

TABLES: dict[str, str] = {
    "calls": """
CREATE TABLE IF NOT EXISTS calls (
    call_id VARCHAR PRIMARY KEY, content_hash VARCHAR, pipeline_version VARCHAR, run_id VARCHAR,
    status VARCHAR, error VARCHAR, failed_stage VARCHAR, kind VARCHAR, source VARCHAR,
    customer_id VARCHAR, agent_id VARCHAR, started_at VARCHAR, duration DOUBLE,
    num_channels INTEGER, sample_rate INTEGER, language VARCHAR, n_turns INTEGER, n_words INTEGER,
    role_confidence DOUBLE, handle_time DOUBLE, agent_talk_share DOUBLE, customer_talk_share DOUBLE,
    silence_share DOUBLE, overtalk_seconds DOUBLE, longest_customer_monologue DOUBLE,
    trust_opening DOUBLE, trust_closing DOUBLE, turnaround DOUBLE, trust_lowest DOUBLE,
    trust_lowest_at DOUBLE, trajectory_shape VARCHAR, agent_trajectory_shape VARCHAR,
    contact_reason VARCHAR, preventable BOOLEAN, satisfaction_score DOUBLE, p_satisfied DOUBLE,
    satisfaction_band VARCHAR, resolution VARCHAR, resolution_confidence DOUBLE, flags VARCHAR[], redacted BOOLEAN, metadata JSON, versions JSON, record JSON,
    processed_at TIMESTAMP
)""",
    "turns": """
CREATE TABLE IF NOT EXISTS turns (
    call_id VARCHAR, idx INTEGER, speaker VARCHAR, role VARCHAR, start DOUBLE, "end" DOUBLE,
    text VARCHAR, channel INTEGER, valence DOUBLE, arousal DOUBLE, trust DOUBLE,
    emotion_confidence DOUBLE, categories JSON
)""",
    "words": """
CREATE TABLE IF NOT EXISTS words (
    call_id VARCHAR, turn_idx INTEGER, idx INTEGER, start DOUBLE, "end" DOUBLE, text VARCHAR,
    probability DOUBLE, speaker VARCHAR
)""",
    "jobs": """
CREATE TABLE IF NOT EXISTS jobs (
    call_id VARCHAR, idx INTEGER, statement VARCHAR, phrase VARCHAR, reason VARCHAR,
    reason_confidence DOUBLE, preventable BOOLEAN, owner VARCHAR, turn_idx INTEGER,
    start DOUBLE, "end" DOUBLE
)""",
    "signals": """
CREATE TABLE IF NOT EXISTS signals (
    call_id VARCHAR, idx INTEGER, kind VARCHAR, strength DOUBLE, turn_idx INTEGER,
    start DOUBLE, "end" DOUBLE, quote VARCHAR
)""",
    "customers": """
CREATE TABLE IF NOT EXISTS customers (
    customer_id VARCHAR PRIMARY KEY, contacts INTEGER, first_contact TIMESTAMP, last_contact TIMESTAMP,
    contacts_by_channel JSON, usage VARCHAR, repeat_contacts INTEGER, repeat_rate DOUBLE, jobs JSON,
    open_jobs VARCHAR[], preventable_contacts INTEGER, emotion_first DOUBLE, emotion_last DOUBLE,
    emotion_trend DOUBLE, satisfaction_mean DOUBLE, satisfaction_last DOUBLE, defection_risk DOUBLE,
    risk_reasons VARCHAR[], at_risk BOOLEAN, unlogged_complaint BOOLEAN, value DOUBLE,
    value_at_risk DOUBLE, rescued_calls INTEGER, value_rescued DOUBLE, updated_at TIMESTAMP
)""",
    "runs": """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, ended_at TIMESTAMP, status VARCHAR,
    calls_ok INTEGER, calls_failed INTEGER, calls_skipped INTEGER, audio_seconds DOUBLE,
    wall_seconds DOUBLE, x_realtime DOUBLE, pipeline_version VARCHAR, inputs VARCHAR,
    config VARCHAR, log_path VARCHAR
)""",
    "reviews": """
CREATE TABLE IF NOT EXISTS reviews (
    call_id VARCHAR NOT NULL, flag VARCHAR NOT NULL, verdict VARCHAR NOT NULL,
    comment VARCHAR, reviewer VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL
)""",
    "verdicts": """
CREATE TABLE IF NOT EXISTS verdicts (
    id BIGINT PRIMARY KEY, call_id VARCHAR NOT NULL, flag VARCHAR NOT NULL, verdict VARCHAR NOT NULL,
    comment VARCHAR, reviewer VARCHAR, created_at TIMESTAMP NOT NULL, imported_at TIMESTAMP
)""",
    "satisfaction_calibrations": """
CREATE TABLE IF NOT EXISTS satisfaction_calibrations (
    created_at TIMESTAMP, surveys VARCHAR, n INTEGER, scale_low DOUBLE, scale_high DOUBLE,
    spearman DOUBLE, mae DOUBLE, mae_refit_cv DOUBLE, mapping JSON
)""",
    "outcomes": """
CREATE TABLE IF NOT EXISTS outcomes (
    customer_id VARCHAR PRIMARY KEY, churned BOOLEAN, revenue_after DOUBLE, outcome_date VARCHAR,
    source VARCHAR, loaded_at TIMESTAMP
)""",
    "outcome_validations": """
CREATE TABLE IF NOT EXISTS outcome_validations (
    validated_at TIMESTAMP, source VARCHAR, customers INTEGER, roc_auc DOUBLE, metrics JSON
)""",
    "insights_customers": """
CREATE TABLE IF NOT EXISTS insights_customers (
    period_kind VARCHAR, period DATE, customers INTEGER, contacts INTEGER, contacts_per_customer DOUBLE,
    helped INTEGER, at_risk INTEGER, outcome_unknown INTEGER, heavy_customers INTEGER,
    light_customers INTEGER, heavy_contacts INTEGER, light_contacts INTEGER, updated_at TIMESTAMP
)""",
    "insights_usage": """
CREATE TABLE IF NOT EXISTS insights_usage (
    period_kind VARCHAR, period DATE, usage VARCHAR, reason VARCHAR, contacts INTEGER, customers INTEGER,
    rank INTEGER
)""",
    "insights_chargeback": """
CREATE TABLE IF NOT EXISTS insights_chargeback (
    period_kind VARCHAR, period DATE, owner VARCHAR, contacts INTEGER, minutes DOUBLE, cost DOUBLE,
    previous_cost DOUBLE, change DOUBLE, share_of_contacts DOUBLE
)""",
    "insights_chargeback_reasons": """
CREATE TABLE IF NOT EXISTS insights_chargeback_reasons (
    owner VARCHAR, reason VARCHAR, contacts INTEGER, minutes DOUBLE, cost DOUBLE, examples VARCHAR[],
    call_ids VARCHAR[], rank INTEGER
)""",
    "alerts": """
CREATE TABLE IF NOT EXISTS alerts (
    alert_id VARCHAR, kind VARCHAR, reason VARCHAR, owner VARCHAR, start_day DATE, end_day DATE,
    days INTEGER, count INTEGER, expected DOUBLE, excess DOUBLE, ratio DOUBLE, z DOUBLE, p_value DOUBLE,
    active BOOLEAN, examples VARCHAR[], call_ids VARCHAR[], daily JSON, raised_at TIMESTAMP
)""",
    "insights_agents": """
CREATE TABLE IF NOT EXISTS insights_agents (
    agent_id VARCHAR, calls INTEGER, frustrated INTEGER, turned INTEGER, share_turned DOUBLE,
    sales_to_frustrated INTEGER, recovered INTEGER, deteriorated INTEGER, mean_turnaround DOUBLE,
    listen JSON
)""",
}

CALL_CHILD_TABLES = ("turns", "words", "jobs", "signals")
INSIGHT_TABLES = ("insights_customers", "insights_usage", "insights_chargeback", "insights_chargeback_reasons",
                  "alerts", "insights_agents")

META_TABLE = "CREATE TABLE IF NOT EXISTS schema_meta (key VARCHAR PRIMARY KEY, value VARCHAR)"


def read_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The store's schema version: None for a new (empty) file, 1 for a store without the version table."""
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_catalog = current_database()").fetchall()}
    if "schema_meta" in tables:
        row = con.execute("SELECT value FROM schema_meta WHERE key = 'version'").fetchone()
        return int(row[0]) if row else 1
    return 1 if tables else None


def _create_all(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in TABLES.values():
        con.execute(ddl)
    con.execute(META_TABLE)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(r[1], r[2]) for r in con.execute(f"PRAGMA table_info('{table}')").fetchall()]


def _v1_to_v2(con: duckdb.DuckDBPyConnection) -> None:
    """Make the tables v1 made lazily, and add any column an older v1 table lacks (as NULL)."""
    existing = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_catalog = current_database()").fetchall()}
    for name, ddl in TABLES.items():
        if name not in existing:
            con.execute(ddl)
            continue
        have = {c for c, _ in _columns(con, name)}
        for column, kind in _expected_columns(con, name):
            if column not in have:
                con.execute(f'ALTER TABLE {name} ADD COLUMN "{column}" {kind}')
    con.execute(META_TABLE)


def _expected_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(column, type) of a table as ``TABLES`` defines it, read back from a temporary copy of the DDL."""
    ddl = TABLES[table].replace(f"CREATE TABLE IF NOT EXISTS {table} (",
                                f"CREATE OR REPLACE TEMP TABLE _expected_{table} (", 1)
    con.execute(ddl)
    try:
        return _columns(con, f"_expected_{table}")
    finally:
        con.execute(f"DROP TABLE temp._expected_{table}")


def _v2_to_v3(con: duckdb.DuckDBPyConnection) -> None:
    """Add the resolution columns to ``calls`` (NULL for calls analysed before there was one)."""
    have = {c for c, _ in _columns(con, "calls")}
    for column, kind in (("resolution", "VARCHAR"), ("resolution_confidence", "DOUBLE")):
        if column not in have:
            con.execute(f'ALTER TABLE calls ADD COLUMN "{column}" {kind}')


def _v3_to_v4(con: duckdb.DuckDBPyConnection) -> None:
    """Add the ``verdicts`` table (empty: the next run copies the review app's verdicts in)."""
    con.execute(TABLES["verdicts"])


def _v4_to_v5(con: duckdb.DuckDBPyConnection) -> None:
    """Add ``calls.satisfaction_band`` (NULL for calls analysed before there was one)."""
    if "satisfaction_band" not in {c for c, _ in _columns(con, "calls")}:
        con.execute('ALTER TABLE calls ADD COLUMN "satisfaction_band" VARCHAR')


# MIGRATIONS[v] takes a store at version v to version v + 1.
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5}


def _set_version(con: duckdb.DuckDBPyConnection, version: int) -> None:
    con.execute("INSERT OR REPLACE INTO schema_meta VALUES ('version', ?)", [str(version)])


def check_readable(found: int | None) -> None:
    if found is not None and found > SCHEMA_VERSION:
        raise StoreError(f"the store has schema version {found}, newer than this wocas understands "
                         f"({SCHEMA_VERSION}); upgrade wocas")


def prepare(con: duckdb.DuckDBPyConnection) -> int:
    """Bring a store opened for writing to ``SCHEMA_VERSION``: create a new one, or upgrade an
    older one in one transaction. Returns the version it found (None counts as current)."""
    found = read_version(con)
    if found == SCHEMA_VERSION:
        return found
    check_readable(found)
    con.execute("BEGIN TRANSACTION")
    try:
        if found is None:
            _create_all(con)
        else:
            for version in range(found, SCHEMA_VERSION):
                MIGRATIONS[version](con)
        _set_version(con, SCHEMA_VERSION)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION if found is None else found
