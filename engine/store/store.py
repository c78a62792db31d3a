"""The DuckDB store: one file, one row per call, child tables keyed by call id.

Writes are idempotent: a call is written inside one transaction that first deletes its
old rows, so a re-run replaces rather than duplicates, and a killed run never leaves a
half-written call visible. ``is_done`` (call id + content hash + pipeline version) lets a
run skip what an earlier run already finished.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from wocas.schema import CallAnalysis
from wocas import errors

SCHEMA = """
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
    flags VARCHAR[], redacted BOOLEAN, metadata JSON, versions JSON, record JSON,
    processed_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS turns (
    call_id VARCHAR, idx INTEGER, speaker VARCHAR, role VARCHAR, start DOUBLE, "end" DOUBLE,
    text VARCHAR, channel INTEGER, valence DOUBLE, arousal DOUBLE, trust DOUBLE,
    emotion_confidence DOUBLE, categories JSON
);
CREATE TABLE IF NOT EXISTS words (
    call_id VARCHAR, turn_idx INTEGER, idx INTEGER, start DOUBLE, "end" DOUBLE, text VARCHAR,
    probability DOUBLE, speaker VARCHAR
);
CREATE TABLE IF NOT EXISTS jobs (
    call_id VARCHAR, idx INTEGER, statement VARCHAR, phrase VARCHAR, reason VARCHAR,
    reason_confidence DOUBLE, preventable BOOLEAN, owner VARCHAR, turn_idx INTEGER,
    start DOUBLE, "end" DOUBLE
);
CREATE TABLE IF NOT EXISTS signals (
    call_id VARCHAR, idx INTEGER, kind VARCHAR, strength DOUBLE, turn_idx INTEGER,
    start DOUBLE, "end" DOUBLE, quote VARCHAR
);
CREATE TABLE IF NOT EXISTS customers (
    customer_id VARCHAR PRIMARY KEY, contacts INTEGER, first_contact TIMESTAMP, last_contact TIMESTAMP,
    contacts_by_channel JSON, usage VARCHAR, repeat_contacts INTEGER, repeat_rate DOUBLE, jobs JSON,
    open_jobs VARCHAR[], preventable_contacts INTEGER, emotion_first DOUBLE, emotion_last DOUBLE,
    emotion_trend DOUBLE, satisfaction_mean DOUBLE, satisfaction_last DOUBLE, defection_risk DOUBLE,
    risk_reasons VARCHAR[], at_risk BOOLEAN, unlogged_complaint BOOLEAN, value DOUBLE,
    value_at_risk DOUBLE, rescued_calls INTEGER, value_rescued DOUBLE, updated_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, ended_at TIMESTAMP, status VARCHAR,
    calls_ok INTEGER, calls_failed INTEGER, calls_skipped INTEGER, audio_seconds DOUBLE,
    wall_seconds DOUBLE, x_realtime DOUBLE, pipeline_version VARCHAR, inputs VARCHAR,
    config VARCHAR, log_path VARCHAR
);
"""
CHILD_TABLES = ("turns", "words", "jobs", "signals")


class StoreLocked(errors.StoreLocked, RuntimeError):
    pass


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Store:
    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        self._schemas: dict[str, pa.Schema] = {}
        try:
            if read_only:
                self.con = duckdb.connect(str(self.path), read_only=True)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.con = duckdb.connect(str(self.path))
                self.con.execute(SCHEMA)
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                raise StoreLocked(f"the store {self.path} is in use by another wocas process "
                                  f"(another run or `wocas serve`); wait for it to finish") from e
            raise

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- reading -------------------------------------------------------------------------
    def is_done(self, call_id: str, content_hash: str, pipeline_version: str) -> bool:
        row = self.con.execute(
            "SELECT 1 FROM calls WHERE call_id = ? AND content_hash = ? AND pipeline_version = ? "
            "AND status = 'ok'", [call_id, content_hash, pipeline_version]).fetchone()
        return row is not None

    def load(self, call_id: str) -> CallAnalysis | None:
        row = self.con.execute("SELECT record FROM calls WHERE call_id = ?", [call_id]).fetchone()
        return CallAnalysis.from_json(json.loads(row[0])) if row else None

    def query(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, params or [])
        cols = [d[0] for d in cursor.description]
        return [dict(zip(cols, row)) for row in cursor.fetchall()]

    # ---- writing -------------------------------------------------------------------------
    def write(self, calls: Iterable[CallAnalysis], run_id: str, pipeline_version: str) -> None:
        """Replace each call's rows in one transaction per batch."""
        calls = list(calls)
        if not calls:
            return
        ids = [c.call_id for c in calls]
        rows = {name: [] for name in CHILD_TABLES}
        call_rows = []
        for c in calls:
            call_rows.append(_call_row(c, run_id, pipeline_version))
            for name, child in _child_rows(c).items():
                rows[name].extend(child)
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table in ("calls",) + CHILD_TABLES:
                self.con.execute(f"DELETE FROM {table} WHERE call_id IN (SELECT UNNEST(?))", [ids])
            self._insert("calls", call_rows)
            for name in CHILD_TABLES:
                self._insert(name, rows[name])
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if table not in self._schemas:  # one catalogue lookup per table, not per batch
            self._schemas[table] = _arrow_schema(self.con, table)
        schema = self._schemas[table]
        cols = schema.names
        arrow = pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in rows], schema=schema)
        self.con.register("_incoming", arrow)
        try:
            quoted = ", ".join(f'"{c}"' for c in cols)
            self.con.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM _incoming")
        finally:
            self.con.unregister("_incoming")

    def start_run(self, run_id: str, pipeline_version: str, inputs: list[str], config_toml: str,
                  log_path: str) -> None:
        self.con.execute(
            "INSERT INTO runs (run_id, started_at, status, pipeline_version, inputs, config, log_path) "
            "VALUES (?, ?, 'running', ?, ?, ?, ?)",
            [run_id, _now(), pipeline_version, json.dumps(inputs), config_toml, log_path])

    def close_stale_runs(self) -> list[str]:
        """Runs still marked 'running' when a new run opens the store were killed (DuckDB's
        file lock says no other process has it): mark them 'interrupted'; returns their ids."""
        stale = [r[0] for r in self.con.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchall()]
        if stale:
            self.con.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
        return stale

    def finish_run(self, run_id: str, status: str, ok: int, failed: int, skipped: int,
                   audio_seconds: float, wall_seconds: float) -> None:
        self.con.execute(
            "UPDATE runs SET ended_at = ?, status = ?, calls_ok = ?, calls_failed = ?, calls_skipped = ?, "
            "audio_seconds = ?, wall_seconds = ?, x_realtime = ? WHERE run_id = ?",
            [_now(), status, ok, failed, skipped, audio_seconds, wall_seconds,
             audio_seconds / wall_seconds if wall_seconds > 0 else None, run_id])


_ARROW_TYPES = {"VARCHAR": pa.string(), "DOUBLE": pa.float64(), "INTEGER": pa.int32(),
                "BOOLEAN": pa.bool_(), "JSON": pa.string(), "TIMESTAMP": pa.timestamp("us"),
                "VARCHAR[]": pa.list_(pa.string())}


def _arrow_schema(con: duckdb.DuckDBPyConnection, table: str) -> pa.Schema:
    info = con.execute(f"PRAGMA table_info('{table}')").fetchall()
    return pa.schema([(row[1], _ARROW_TYPES[row[2]]) for row in info])


def _call_row(c: CallAnalysis, run_id: str, pipeline_version: str) -> dict[str, Any]:
    m = c.metrics
    customer = c.trajectories.get("customer")
    agent = c.trajectories.get("agent")
    return {
        "call_id": c.call_id, "content_hash": c.call.content_hash, "pipeline_version": pipeline_version,
        "run_id": run_id, "status": c.status, "error": c.error, "failed_stage": c.failed_stage,
        "kind": c.call.kind, "source": c.call.source, "customer_id": c.call.customer_id,
        "agent_id": c.call.agent_id, "started_at": c.call.started_at, "duration": c.duration,
        "num_channels": c.num_channels, "sample_rate": c.sample_rate, "language": c.language,
        "n_turns": len(c.turns), "n_words": len(c.words), "role_confidence": c.role_confidence,
        "handle_time": m.handle_time if m else None,
        "agent_talk_share": m.talk_share.get("agent") if m else None,
        "customer_talk_share": m.talk_share.get("customer") if m else None,
        "silence_share": m.silence_share if m else None,
        "overtalk_seconds": m.overtalk_seconds if m else None,
        "longest_customer_monologue": m.longest_customer_monologue if m else None,
        "trust_opening": customer.opening if customer else None,
        "trust_closing": customer.closing if customer else None,
        "turnaround": customer.turnaround if customer else None,
        "trust_lowest": customer.lowest if customer else None,
        "trust_lowest_at": customer.lowest_at if customer else None,
        "trajectory_shape": customer.shape if customer else None,
        "agent_trajectory_shape": agent.shape if agent else None,
        "contact_reason": c.contact_reason, "preventable": c.preventable,
        "satisfaction_score": c.satisfaction.score if c.satisfaction else None,
        "p_satisfied": c.satisfaction.p_satisfied if c.satisfaction else None,
        "flags": list(c.flags), "redacted": c.redacted,
        "metadata": json.dumps(c.call.metadata, default=str), "versions": json.dumps(c.versions),
        "record": json.dumps(c.to_json()), "processed_at": _now(),
    }


def _child_rows(c: CallAnalysis) -> dict[str, list[dict[str, Any]]]:
    turns, words = [], []
    for t in c.turns:
        e = t.emotion
        turns.append({"call_id": c.call_id, "idx": t.index, "speaker": t.speaker, "role": t.role,
                      "start": t.start, "end": t.end, "text": t.text, "channel": t.channel,
                      "valence": e.valence if e else None, "arousal": e.arousal if e else None,
                      "trust": e.trust if e else None, "emotion_confidence": e.confidence if e else None,
                      "categories": json.dumps(e.categories) if e else None})
        for w in t.words:
            words.append({"call_id": c.call_id, "turn_idx": t.index, "idx": len(words), "start": w.start,
                          "end": w.end, "text": w.text, "probability": w.probability, "speaker": w.speaker})
    jobs = [{"call_id": c.call_id, "idx": i, **j.model_dump(exclude={"turn_index"}), "turn_idx": j.turn_index}
            for i, j in enumerate(c.jobs)]
    signals = [{"call_id": c.call_id, "idx": i, **s.model_dump(exclude={"turn_index"}), "turn_idx": s.turn_index}
               for i, s in enumerate(c.signals)]
    return {"turns": turns, "words": words, "jobs": jobs, "signals": signals}
