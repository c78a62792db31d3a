"""The DuckDB store: one file, one row per call, child tables keyed by call id.

Writes are idempotent: a call is written inside one transaction that first deletes its
old rows, so a re-run replaces rather than duplicates, and a killed run never leaves a
half-written call visible. ``is_done`` (call id + content hash + pipeline version) lets a
run skip what an earlier run already finished.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from wocas.errors import StoreLocked, StoreMissing
from wocas.schema import CallAnalysis
from wocas.store import schema

Row = dict[str, Any]  # one result row, keyed by column name
Params = list[Any] | dict[str, Any] | None  # positional (?) or named ($name) parameters


class ExportFormat(str, Enum):
    CSV = "csv"  # with a header row
    PARQUET = "parquet"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Store:
    """The one way to open the store. A write open creates a missing store (unless
    ``create=False``) and upgrades an older one to ``schema.SCHEMA_VERSION``; a read-only open
    needs an existing store (``StoreMissing``) and reads it as it is. Either raises
    ``StoreLocked`` while another process holds the store."""

    def __init__(self, path: str | Path, read_only: bool = False, create: bool = True):
        self.path = Path(path)
        self.read_only = read_only
        self._schemas: dict[str, pa.Schema] = {}
        self._in_transaction = False
        if (read_only or not create) and not self.path.exists():
            raise StoreMissing(f"no store at {self.path}")
        try:
            if read_only:
                self._con = duckdb.connect(str(self.path), read_only=True)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._con = duckdb.connect(str(self.path))
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                raise StoreLocked(f"the store {self.path} is in use by another wocas process "
                                  f"(another run or `wocas serve`); wait for it to finish") from e
            raise
        try:
            if read_only:
                schema.check_readable(schema.read_version(self._con))
            else:
                schema.prepare(self._con)
        except Exception:
            self._con.close()
            raise

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False, create: bool = True) -> "Store":
        return cls(path, read_only=read_only, create=create)

    @classmethod
    def over(cls, connection: duckdb.DuckDBPyConnection, path: str | Path) -> "Store":
        """A read-only Store over a connection someone else opened (a snapshot's cursor)."""
        store = cls.__new__(cls)
        store.path, store.read_only, store._schemas, store._in_transaction = Path(path), True, {}, False
        store._con = connection
        return store

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def version(self) -> int | None:
        """The schema version of the file (1 for a store an older release wrote and nobody upgraded)."""
        return schema.read_version(self._con)

    # ---- reading -------------------------------------------------------------------------
    def is_done(self, call_id: str, content_hash: str, pipeline_version: str) -> bool:
        row = self._con.execute(
            "SELECT 1 FROM calls WHERE call_id = ? AND content_hash = ? AND pipeline_version = ? "
            "AND status = 'ok'", [call_id, content_hash, pipeline_version]).fetchone()
        return row is not None

    def load(self, call_id: str) -> CallAnalysis | None:
        row = self._con.execute("SELECT record FROM calls WHERE call_id = ?", [call_id]).fetchone()
        return CallAnalysis.from_json(json.loads(row[0])) if row else None

    def query(self, sql: str, params: Params = None) -> list[Row]:
        cursor = self._con.execute(sql, params if params is not None else [])
        cols = [d[0] for d in cursor.description]
        return [dict(zip(cols, row)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: Params = None) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self._con.execute(sql, params if params is not None else []).fetchone()
        return row[0] if row else None

    def has_table(self, table: str) -> bool:
        return bool(self.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]))

    def columns(self, table: str) -> list[str]:
        return [r[1] for r in self._con.execute(f"PRAGMA table_info('{table}')").fetchall()]

    def export_query(self, sql: str, path: Path, fmt: ExportFormat) -> Path:
        """Write a query's result to a CSV (with a header) or Parquet file."""
        options = "(HEADER)" if fmt is ExportFormat.CSV else "(FORMAT parquet)"
        self._con.execute(f"COPY ({sql}) TO '{_sql_path(path)}' {options}")
        return path

    # ---- writing -------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = None) -> None:
        """A statement without a result: a temporary view for later queries, an UPDATE, an INSERT."""
        self._con.execute(sql, params if params is not None else [])

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """Everything inside commits together or not at all; a nested use joins the outer one."""
        if self._in_transaction:
            yield self
            return
        self._con.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield self
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False

    def append_rows(self, table: str, rows: list[Row]) -> None:
        """Append rows (dicts keyed by column name; a missing key is NULL), typed by the table's columns."""
        if not rows:
            return
        schema_ = self._arrow_schema(table)
        cols = schema_.names
        self.append_arrow(table, pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in rows], schema=schema_))

    def append_arrow(self, table: str, data: pa.Table) -> None:
        """Append an Arrow table by column name; columns it lacks are NULL."""
        self._con.register("_incoming", data)
        try:
            quoted = ", ".join(f'"{c}"' for c in data.column_names)
            self._con.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM _incoming")
        finally:
            self._con.unregister("_incoming")

    def replace_table(self, table: str, rows: list[Row]) -> None:
        """Replace every row of a table, in one transaction."""
        with self.transaction():
            self._con.execute(f"DELETE FROM {table}")
            self.append_rows(table, rows)

    def _arrow_schema(self, table: str) -> pa.Schema:
        if table not in self._schemas:  # one catalogue lookup per table, not per batch
            info = self._con.execute(f"PRAGMA table_info('{table}')").fetchall()
            self._schemas[table] = pa.schema([(row[1], _ARROW_TYPES[row[2]]) for row in info])
        return self._schemas[table]

    def write(self, calls: Iterable[CallAnalysis], run_id: str, pipeline_version: str) -> None:
        """Replace each call's rows in one transaction per batch."""
        calls = list(calls)
        if not calls:
            return
        ids = [c.call_id for c in calls]
        rows: dict[str, list[Row]] = {name: [] for name in schema.CALL_CHILD_TABLES}
        call_rows = []
        for c in calls:
            call_rows.append(_call_row(c, run_id, pipeline_version))
            for name, child in _child_rows(c).items():
                rows[name].extend(child)
        with self.transaction():
            for table in ("calls",) + schema.CALL_CHILD_TABLES:
                self._con.execute(f"DELETE FROM {table} WHERE call_id IN (SELECT UNNEST(?))", [ids])
            self.append_rows("calls", call_rows)
            for name in schema.CALL_CHILD_TABLES:
                self.append_rows(name, rows[name])

    def start_run(self, run_id: str, pipeline_version: str, inputs: list[str], config_toml: str,
                  log_path: str) -> None:
        self._con.execute(
            "INSERT INTO runs (run_id, started_at, status, pipeline_version, inputs, config, log_path) "
            "VALUES (?, ?, 'running', ?, ?, ?, ?)",
            [run_id, _now(), pipeline_version, json.dumps(inputs), config_toml, log_path])

    def close_stale_runs(self) -> list[str]:
        """Runs still marked 'running' when a new run opens the store were killed (DuckDB's
        file lock says no other process has it): mark them 'interrupted'; returns their ids."""
        stale = [r[0] for r in self._con.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchall()]
        if stale:
            self._con.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
        return stale

    def finish_run(self, run_id: str, status: str, ok: int, failed: int, skipped: int,
                   audio_seconds: float, wall_seconds: float) -> None:
        self._con.execute(
            "UPDATE runs SET ended_at = ?, status = ?, calls_ok = ?, calls_failed = ?, calls_skipped = ?, "
            "audio_seconds = ?, wall_seconds = ?, x_realtime = ? WHERE run_id = ?",
            [_now(), status, ok, failed, skipped, audio_seconds, wall_seconds,
             audio_seconds / wall_seconds if wall_seconds > 0 else None, run_id])


_ARROW_TYPES = {"VARCHAR": pa.string(), "DOUBLE": pa.float64(), "INTEGER": pa.int32(),
                "BOOLEAN": pa.bool_(), "JSON": pa.string(), "TIMESTAMP": pa.timestamp("us"),
                "DATE": pa.date32(), "VARCHAR[]": pa.list_(pa.string())}


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


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
        "n_turns": len(c.turns), "n_words": len(c.turn_words()), "role_confidence": c.role_confidence,
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
        "satisfaction_band": c.satisfaction.band if c.satisfaction else None,
        "resolution": str(c.resolution.state) if c.resolution else None,
        "resolution_confidence": c.resolution.confidence if c.resolution else None,
        "flags": [f.kind.value for f in c.flags], "redacted": c.redacted,
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
