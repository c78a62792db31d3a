"""Every SQL statement the review app runs, over a DuckDB connection it is handed.

The app opens the store for each request and closes it after, so a nightly ``wocas run``
can take the store while nobody is reviewing; while a run holds it the app answers "busy"
instead of failing. Tables the stages may not have filled (jobs, signals, customers) are
read when present and treated as empty when not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from wocas.review.flags import CallFacts, SignalFact
from wocas.errors import StoreLocked, UsageError

log = logging.getLogger(__name__)

REVIEWS_SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    call_id VARCHAR NOT NULL, flag VARCHAR NOT NULL, verdict VARCHAR NOT NULL,
    comment VARCHAR, reviewer VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL
);
"""
VERDICTS = ("confirm", "reject")


class StoreBusy(StoreLocked, RuntimeError):
    """Another process (a ``wocas run``) holds the store."""


class StoreMissing(UsageError, FileNotFoundError):
    pass


@dataclass(frozen=True)
class StoreAccess:
    path: Path

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.path.exists():
            raise StoreMissing(f"no store at {self.path}")
        try:
            con = duckdb.connect(str(self.path))
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                raise StoreBusy(f"the store {self.path} is in use by another process (a wocas run?)") from e
            raise
        try:
            yield con
        finally:
            con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    cols = [d[0] for d in cursor.description]
    return [dict(zip(cols, row)) for row in cursor.fetchall()]


def ensure_reviews_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(REVIEWS_SCHEMA)


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [table]).fetchone()[0])


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}


def store_version(con: duckdb.DuckDBPyConnection) -> tuple:
    """Changes whenever a run writes calls: the key of the app's flag cache."""
    return tuple(con.execute("SELECT count(*), max(processed_at) FROM calls").fetchone())


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def metadata_of(row: dict[str, Any]) -> dict[str, Any]:
    raw = row.get("metadata")
    if not raw:
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def to_float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# ---- the queue ---------------------------------------------------------------------------
QUEUE_COLUMNS = """call_id, kind, customer_id, agent_id, started_at, duration, metadata, flags,
    trajectory_shape, turnaround, trust_lowest, trust_lowest_at, preventable, contact_reason,
    satisfaction_score, p_satisfied, silence_share, overtalk_seconds, handle_time"""


def queue_calls(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every analysed call with the fields the flag rules and the queue filters need."""
    calls = rows(con, f"SELECT {QUEUE_COLUMNS} FROM calls WHERE status = 'ok'")
    signals: dict[str, list[SignalFact]] = {}
    if has_table(con, "signals"):
        for s in rows(con, 'SELECT call_id, kind, strength, start, quote FROM signals ORDER BY call_id, idx'):
            signals.setdefault(s["call_id"], []).append(
                SignalFact(kind=s["kind"] or "", strength=float(s["strength"] or 0.0),
                           start=s["start"], quote=s["quote"] or ""))
    previous = previous_contacts(con)
    for c in calls:
        c["meta"] = metadata_of(c)
        c["queue"] = str(c["meta"].get("queue") or "") or None
        c["facts"] = CallFacts(
            call_id=c["call_id"], trajectory_shape=c["trajectory_shape"], turnaround=c["turnaround"],
            trust_lowest=c["trust_lowest"], trust_lowest_at=c["trust_lowest_at"], preventable=c["preventable"],
            contact_reason=c["contact_reason"], satisfaction_score=c["satisfaction_score"],
            p_satisfied=c["p_satisfied"], silence_share=c["silence_share"],
            overtalk_seconds=c["overtalk_seconds"], handle_time=c["handle_time"],
            days_since_previous_contact=previous.get(c["call_id"]), stored_flags=tuple(c["flags"] or ()),
            signals=tuple(signals.get(c["call_id"], ())))
    return calls


def previous_contacts(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """call_id -> days since the same customer's previous contact (calls with a known time only)."""
    out: dict[str, float] = {}
    found = rows(con, """
        SELECT call_id, started_at,
               lag(started_at) OVER (PARTITION BY customer_id ORDER BY started_at) AS previous
        FROM calls WHERE status = 'ok' AND customer_id IS NOT NULL AND started_at IS NOT NULL""")
    for r in found:
        now, before = parse_time(r["started_at"]), parse_time(r["previous"])
        if now and before:
            out[r["call_id"]] = (now - before).total_seconds() / 86400
    return out


def latest_verdicts(con: duckdb.DuckDBPyConnection, call_id: str | None = None) -> dict[tuple[str, str], dict]:
    """(call_id, flag) -> the most recent verdict on it."""
    where, params = ("WHERE call_id = ?", [call_id]) if call_id else ("", [])
    found = rows(con, f"""
        SELECT call_id, flag, verdict, comment, reviewer, created_at FROM (
            SELECT *, row_number() OVER (PARTITION BY call_id, flag ORDER BY created_at DESC) AS n
            FROM reviews {where}) WHERE n = 1""", params)
    return {(r["call_id"], r["flag"]): r for r in found}


def verdict_history(con: duckdb.DuckDBPyConnection, call_id: str) -> list[dict[str, Any]]:
    return rows(con, "SELECT flag, verdict, comment, reviewer, created_at FROM reviews "
                     "WHERE call_id = ? ORDER BY created_at DESC", [call_id])


def add_verdict(con: duckdb.DuckDBPyConnection, call_id: str, flag: str, verdict: str, comment: str,
                reviewer: str) -> None:
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    con.execute("INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?)",
                [call_id, flag, verdict, comment, reviewer, datetime.now(timezone.utc).replace(tzinfo=None)])


# ---- one call ----------------------------------------------------------------------------
def call_row(con: duckdb.DuckDBPyConnection, call_id: str) -> dict[str, Any] | None:
    found = rows(con, "SELECT * FROM calls WHERE call_id = ?", [call_id])
    if not found:
        return None
    row = found[0]
    row["meta"] = metadata_of(row)
    try:
        row["record_json"] = json.loads(row["record"]) if row.get("record") else {}
    except json.JSONDecodeError:
        row["record_json"] = {}
    return row


def call_audio_source(con: duckdb.DuckDBPyConnection, call_id: str) -> tuple[str, str] | None:
    """(kind, source) of a stored call; the only way the audio route learns a file path."""
    found = con.execute("SELECT kind, source FROM calls WHERE call_id = ?", [call_id]).fetchone()
    return (found[0], found[1]) if found else None


def call_turns(con: duckdb.DuckDBPyConnection, call_id: str) -> list[dict[str, Any]]:
    return rows(con, 'SELECT idx, speaker, role, start, "end", text, valence, arousal, trust, '
                     'emotion_confidence FROM turns WHERE call_id = ? ORDER BY idx', [call_id])


def call_jobs(con: duckdb.DuckDBPyConnection, call_id: str) -> list[dict[str, Any]]:
    if not has_table(con, "jobs"):
        return []
    return rows(con, 'SELECT * FROM jobs WHERE call_id = ? ORDER BY idx', [call_id])


def call_signals(con: duckdb.DuckDBPyConnection, call_id: str) -> list[dict[str, Any]]:
    if not has_table(con, "signals"):
        return []
    return rows(con, 'SELECT * FROM signals WHERE call_id = ? ORDER BY start NULLS LAST, idx', [call_id])


# ---- customers ---------------------------------------------------------------------------
def customer_record(con: duckdb.DuckDBPyConnection, customer_id: str) -> dict[str, Any] | None:
    """The row the customers roll-up wrote, when that table exists."""
    if not has_table(con, "customers") or "customer_id" not in table_columns(con, "customers"):
        return None
    found = rows(con, "SELECT * FROM customers WHERE customer_id = ?", [customer_id])
    return found[0] if found else None


def customer_contacts(con: duckdb.DuckDBPyConnection, customer_id: str) -> list[dict[str, Any]]:
    found = rows(con, """
        SELECT call_id, kind, status, started_at, duration, agent_id, contact_reason, preventable,
               trajectory_shape, trust_opening, trust_closing, satisfaction_score, p_satisfied, metadata
        FROM calls WHERE customer_id = ? ORDER BY started_at NULLS LAST, call_id""", [customer_id])
    for r in found:
        r["meta"] = metadata_of(r)
    return found


def customers_jobs(con: duckdb.DuckDBPyConnection, customer_id: str) -> list[dict[str, Any]]:
    if not has_table(con, "jobs"):
        return []
    return rows(con, """
        SELECT j.*, c.started_at, c.trust_closing, c.p_satisfied FROM jobs j JOIN calls c USING (call_id)
        WHERE c.customer_id = ? ORDER BY c.started_at NULLS LAST, j.idx""", [customer_id])


def customer_list(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    found = rows(con, """
        SELECT customer_id, count(*) AS contacts, max(started_at) AS last_contact,
               avg(trust_closing) AS mean_closing_trust, any_value(metadata) AS metadata
        FROM calls WHERE customer_id IS NOT NULL GROUP BY customer_id ORDER BY customer_id""")
    record_rows: dict[str, dict] = {}
    if has_table(con, "customers") and "customer_id" in table_columns(con, "customers"):
        record_rows = {r["customer_id"]: r for r in rows(con, "SELECT * FROM customers")}
    for r in found:
        r["record"] = record_rows.get(r["customer_id"], {})
        r["value"] = to_float(r["record"].get("value")) if r["record"] else None
        if r["value"] is None:
            r["value"] = to_float(metadata_of(r).get("customer_value"))
    return found


# ---- insights ----------------------------------------------------------------------------
def reason_counts_by_day(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return rows(con, """
        SELECT contact_reason AS reason, substr(started_at, 1, 10) AS day, count(*) AS n
        FROM calls WHERE status = 'ok' AND contact_reason IS NOT NULL
        GROUP BY ALL ORDER BY day NULLS LAST""")


def preventable_by_owner(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Contacts per owning function, and how many of them were preventable."""
    if not has_table(con, "jobs"):
        return []
    return rows(con, """
        SELECT coalesce(owner, '(no owner)') AS owner, count(DISTINCT call_id) AS contacts,
               count(DISTINCT call_id) FILTER (WHERE preventable) AS preventable
        FROM jobs GROUP BY ALL ORDER BY preventable DESC, contacts DESC""")


def preventable_overall(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    found = con.execute("SELECT count(*) FILTER (WHERE preventable), count(*) FILTER (WHERE preventable IS NOT NULL), "
                        "count(*) FROM calls WHERE status = 'ok'").fetchone()
    return {"preventable": found[0], "known": found[1], "calls": found[2]}


def customers_at_risk(con: duckdb.DuckDBPyConnection) -> tuple[list[dict[str, Any]], bool]:
    """Customers by value at risk; the bool says whether the customers roll-up supplied them."""
    if has_table(con, "customers"):
        cols = table_columns(con, "customers")
        if {"customer_id", "defection_risk"} <= cols:
            value = "value" if "value" in cols else "NULL"
            at_risk = "value_at_risk" if "value_at_risk" in cols else f"defection_risk * {value}"
            found = rows(con, f"""
                SELECT customer_id, defection_risk AS risk, {value} AS value, {at_risk} AS value_at_risk
                FROM customers ORDER BY value_at_risk DESC NULLS LAST, risk DESC NULLS LAST""")
            if found:  # an empty table means the roll-up has not run since these calls were stored
                return found, True
    return [], False


def review_agreement(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per flag kind: how often the latest verdict confirmed what the engine raised."""
    return rows(con, """
        SELECT flag, count(*) AS reviewed, count(*) FILTER (WHERE verdict = 'confirm') AS confirmed,
               count(*) FILTER (WHERE verdict = 'reject') AS rejected, count(DISTINCT reviewer) AS reviewers
        FROM (SELECT *, row_number() OVER (PARTITION BY call_id, flag ORDER BY created_at DESC) AS n FROM reviews)
        WHERE n = 1 GROUP BY flag ORDER BY reviewed DESC""")


def signal_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    if not has_table(con, "signals"):
        return []
    return rows(con, """SELECT s.call_id, s.kind, s.strength, c.customer_id, c.started_at, c.metadata
                        FROM signals s JOIN calls c USING (call_id) WHERE c.status = 'ok'""")
