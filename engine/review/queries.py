"""Every SQL statement the review app runs, over the store it is handed.

The app reads only the read-only snapshot each run publishes (never the store a run writes),
so reviewers and a nightly ``wocas run`` never wait for each other. Verdicts live in their own
SQLite file (``verdicts.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from wocas.schema import Flag
from wocas.store import Store
from wocas.store import queries as store_queries
from wocas.store import snapshot
from wocas.store.rows import CallSummary, CustomerRow

log = logging.getLogger(__name__)



class SnapshotAccess:
    """The newest snapshot a run published, read-only (``wocas.store.snapshot``). The store
    itself is never opened, so a browser left open never holds a lock a run needs."""

    def __init__(self, store_path: Path):
        self._reader = snapshot.SnapshotReader(store_path)

    @contextmanager
    def connect(self) -> Iterator[Store]:
        with self._reader.read() as store:
            yield store


def store_version(store: Store) -> tuple:
    """Changes whenever a run writes calls: the key of the app's flag cache."""
    return tuple(store.query("SELECT count(*) AS n, max(processed_at) AS at FROM calls")[0].values())


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
QUEUE_COLUMNS = """call_id, kind, customer_id, agent_id, started_at, duration, metadata,
    CAST(json_extract(record, '$.flags') AS VARCHAR) AS flag_record"""
_FLAGS = TypeAdapter(tuple[Flag, ...])


def queue_calls(store: Store) -> list[dict[str, Any]]:
    """Every analysed call with the fields the queue filters need and the QA flags the flags stage stored."""
    calls = store.query(f"SELECT {QUEUE_COLUMNS} FROM calls WHERE status = 'ok'")
    for c in calls:
        c["meta"] = metadata_of(c)
        c["queue"] = str(c["meta"].get("queue") or "") or None
        c["flags"] = _FLAGS.validate_json(c.pop("flag_record") or "[]")
    return calls


# ---- one call ----------------------------------------------------------------------------
def call_row(store: Store, call_id: str) -> dict[str, Any] | None:
    found = store.query("SELECT * FROM calls WHERE call_id = ?", [call_id])
    if not found:
        return None
    row = found[0]
    row["meta"] = metadata_of(row)
    try:
        row["record_json"] = json.loads(row["record"]) if row.get("record") else {}
    except json.JSONDecodeError:
        row["record_json"] = {}
    return row


def call_audio_source(store: Store, call_id: str) -> tuple[str, str] | None:
    """(kind, source) of a stored call; the only way the audio route learns a file path."""
    found = store.query("SELECT kind, source FROM calls WHERE call_id = ?", [call_id])
    return (found[0]["kind"], found[0]["source"]) if found else None


def call_turns(store: Store, call_id: str) -> list[dict[str, Any]]:
    return store.query('SELECT idx, speaker, role, start, "end", text, valence, arousal, trust, '
                       'emotion_confidence FROM turns WHERE call_id = ? ORDER BY idx', [call_id])


def call_jobs(store: Store, call_id: str) -> list[dict[str, Any]]:
    return store.query('SELECT * FROM jobs WHERE call_id = ? ORDER BY idx', [call_id])


def call_signals(store: Store, call_id: str) -> list[dict[str, Any]]:
    return store.query('SELECT * FROM signals WHERE call_id = ? ORDER BY start NULLS LAST, idx', [call_id])


# ---- customers ---------------------------------------------------------------------------
def customer_record(store: Store, customer_id: str) -> CustomerRow | None:
    """The row the customers roll-up wrote, if it has run since the customer called."""
    return store_queries.customer(store, customer_id)


def customer_contacts(store: Store, customer_id: str) -> list[CallSummary]:
    return store_queries.call_summaries(store, customer_id)


def customers_jobs(store: Store, customer_id: str) -> list[dict[str, Any]]:
    return store.query("""
        SELECT j.*, c.started_at, c.trust_closing, c.p_satisfied FROM jobs j JOIN calls c USING (call_id)
        WHERE c.customer_id = ? ORDER BY c.started_at NULLS LAST, j.idx""", [customer_id])


def customer_list(store: Store) -> list[dict[str, Any]]:
    found = store.query("""
        SELECT customer_id, count(*) AS contacts, max(started_at) AS last_contact,
               avg(trust_closing) AS mean_closing_trust, any_value(metadata) AS metadata
        FROM calls WHERE customer_id IS NOT NULL GROUP BY customer_id ORDER BY customer_id""")
    records = {r.customer_id: r for r in store_queries.customers(store)}
    for r in found:
        r["record"] = records.get(r["customer_id"])
        r["value"] = to_float(r["record"].value) if r["record"] else None
        if r["value"] is None:
            r["value"] = to_float(metadata_of(r).get("customer_value"))
    return found


# ---- insights ----------------------------------------------------------------------------
def reason_counts_by_day(store: Store) -> list[dict[str, Any]]:
    return store.query("""
        SELECT contact_reason AS reason, substr(started_at, 1, 10) AS day, count(*) AS n
        FROM calls WHERE status = 'ok' AND contact_reason IS NOT NULL
        GROUP BY ALL ORDER BY day NULLS LAST""")


def preventable_by_owner(store: Store) -> list[dict[str, Any]]:
    """Contacts per owning function, and how many of them were preventable."""
    return store.query("""
        SELECT coalesce(owner, '(no owner)') AS owner, count(DISTINCT call_id) AS contacts,
               count(DISTINCT call_id) FILTER (WHERE preventable) AS preventable
        FROM jobs GROUP BY ALL ORDER BY preventable DESC, contacts DESC""")


def preventable_overall(store: Store) -> dict[str, int]:
    return store.query("SELECT count(*) FILTER (WHERE preventable) AS preventable, "
                       "count(*) FILTER (WHERE preventable IS NOT NULL) AS known, count(*) AS calls "
                       "FROM calls WHERE status = 'ok'")[0]


def customers_at_risk(store: Store) -> tuple[list[dict[str, Any]], bool]:
    """The customers at risk (``store.queries``' definition, the one ``wocas customers --at-risk``
    and the report read) by value at risk; the bool says whether the customers roll-up has run."""
    found = [{"customer_id": r.customer_id, "risk": r.defection_risk, "value": r.value,
              "value_at_risk": r.value_at_risk} for r in store_queries.customers(store, at_risk_only=True)]
    found.sort(key=lambda r: (-(r["value_at_risk"] or 0.0), -(r["risk"] or 0.0)))
    # an empty table means the roll-up has not run since these calls were stored
    return found, store_queries.customer_count(store) > 0


def signal_rows(store: Store) -> list[dict[str, Any]]:
    return store.query("""SELECT s.call_id, s.kind, s.strength, c.customer_id, c.started_at, c.metadata
                        FROM signals s JOIN calls c USING (call_id) WHERE c.status = 'ok'""")
