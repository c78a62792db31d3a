"""Reviewers' verdicts, in their own SQLite file beside the store (``wocas.verdicts.sqlite``).

SQLite in WAL mode lets several reviewers (and several ``wocas serve`` processes) write at once
while a run holds the DuckDB store; nothing here ever opens the store for writing. The review
app is the only reader of verdicts. Verdicts that an older release wrote into the store's
``reviews`` table are copied in once, when this file is first created.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

VERDICTS = ("confirm", "reject")
SCHEMA = """CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL, flag TEXT NOT NULL, verdict TEXT NOT NULL,
    comment TEXT, reviewer TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reviews_call ON reviews (call_id, flag);"""
LATEST = """SELECT call_id, flag, verdict, comment, reviewer, created_at FROM (
    SELECT *, row_number() OVER (PARTITION BY call_id, flag ORDER BY created_at DESC, id DESC) AS n
    FROM reviews {where}) WHERE n = 1"""


def verdicts_path(store_path: Path) -> Path:
    store_path = Path(store_path)
    return store_path.with_name(store_path.stem + ".verdicts.sqlite")


class Verdicts:
    def __init__(self, path: Path, legacy: list[dict[str, Any]] | None = None):
        self.path = Path(path)
        self._local = threading.local()
        fresh = not self.path.exists()
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            if fresh and legacy:
                con.executemany("INSERT INTO reviews (id, call_id, flag, verdict, comment, reviewer, created_at) "
                                "VALUES (:id, :call_id, :flag, :verdict, :comment, :reviewer, :created_at)",
                                [{"id": None, **r, "created_at": _stamp(r["created_at"])} for r in legacy])

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = getattr(self._local, "connection", None)  # one connection per thread
        if con is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA busy_timeout=30000")
            self._local.connection = con
        yield con

    def _rows(self, sql: str, params: list[Any] | tuple = ()) -> list[dict[str, Any]]:
        with self._connect() as con:
            rows = [dict(r) for r in con.execute(sql, params).fetchall()]
        for r in rows:
            if isinstance(r.get("created_at"), str):
                r["created_at"] = datetime.fromisoformat(r["created_at"])
        return rows

    def add(self, call_id: str, flag: str, verdict: str, comment: str, reviewer: str) -> None:
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        with self._connect() as con:
            con.execute("INSERT INTO reviews (call_id, flag, verdict, comment, reviewer, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (call_id, flag, verdict, comment, reviewer, _stamp(datetime.now(timezone.utc))))

    def latest(self, call_id: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """(call_id, flag) -> the most recent verdict on it."""
        where, params = ("WHERE call_id = ?", [call_id]) if call_id is not None else ("", [])
        return {(r["call_id"], r["flag"]): r for r in self._rows(LATEST.format(where=where), params)}

    def history(self, call_id: str) -> list[dict[str, Any]]:
        return self._rows("SELECT flag, verdict, comment, reviewer, created_at FROM reviews WHERE call_id = ? "
                          "ORDER BY created_at DESC, id DESC", [call_id])

    def agreement(self) -> list[dict[str, Any]]:
        """Per flag kind: how often the latest verdict confirmed what the engine raised."""
        return self._rows(f"""
            SELECT flag, count(*) AS reviewed, sum(verdict = 'confirm') AS confirmed,
                   sum(verdict = 'reject') AS rejected, count(DISTINCT reviewer) AS reviewers
            FROM ({LATEST.format(where='')}) GROUP BY flag ORDER BY reviewed DESC""")

    def all(self) -> list[dict[str, Any]]:
        return self._rows("SELECT call_id, flag, verdict, comment, reviewer, created_at FROM reviews ORDER BY id")


def _stamp(value: Any) -> str:
    """UTC, ISO 8601 with microseconds: sorts as text."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    return str(value)
