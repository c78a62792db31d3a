"""Copy the review app's verdicts (``wocas.verdicts.sqlite``, WAL) into the store's ``verdicts`` table.

The review app writes verdicts to their own SQLite file so reviewers never wait on a run; each
``wocas run`` (holding the store) copies the rows that are new or changed since the last copy,
keyed by the SQLite row id, so reports and queries can join them with the calls. Copying twice
changes nothing. A row that has left the SQLite file stays in the store: losing that file never
loses a verdict (the review app seeds a new file from the newest snapshot's table). The file
missing, locked or unreadable is a warning for the run's log, never a failure.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from wocas.review.verdicts import verdicts_path
from wocas.store.store import Store, _now

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0  # a WAL reader waits only on a rare exclusive lock; never hold up the run longer
COLUMNS = ("id", "call_id", "flag", "verdict", "comment", "reviewer", "created_at")
_INCOMING = pa.schema([("id", pa.int64()), ("call_id", pa.string()), ("flag", pa.string()),
                       ("verdict", pa.string()), ("comment", pa.string()), ("reviewer", pa.string()),
                       ("created_at", pa.timestamp("us"))])

# LATEST_VERDICTS: each (call, flag)'s most recent verdict; the report's QA section reads it.
LATEST_SQL = """
SELECT call_id, flag, verdict, comment, reviewer, created_at FROM (
    SELECT *, row_number() OVER (PARTITION BY call_id, flag ORDER BY created_at DESC, id DESC) AS n
    FROM verdicts) WHERE n = 1"""


@dataclass(frozen=True)
class VerdictCopy:
    source: Path
    read: int = 0  # rows in the SQLite file
    copied: int = 0  # new or changed rows written to the store
    warning: str | None = None  # why nothing was read (missing, locked, unreadable)


def import_verdicts(store: Store, source: Path | None = None) -> VerdictCopy:
    """Copy new and changed verdicts from ``source`` (default: beside the store) into ``verdicts``."""
    source = Path(source) if source is not None else verdicts_path(store.path)
    if not source.is_file():
        held = store.query("SELECT count(*) AS n FROM verdicts")[0]["n"]
        why = (f"the verdicts file {source} is missing; the {held} verdicts copied earlier are kept"
               if held else None)  # no review app used yet: nothing to say
        return VerdictCopy(source, warning=why)
    try:
        rows = _read(source)
    except sqlite3.Error as e:
        return VerdictCopy(source, warning=f"could not read the verdicts file {source} ({e}); "
                                           f"the next run copies them")
    incoming = pa.Table.from_pylist(rows, schema=_INCOMING)
    store._con.register("_verdicts_in", incoming)
    try:
        with store.transaction():
            changed = "_verdicts_in i LEFT JOIN verdicts v USING (id) WHERE v.id IS NULL OR " + " OR ".join(
                f"i.{c} IS DISTINCT FROM v.{c}" for c in COLUMNS[1:])
            store.execute(f"CREATE OR REPLACE TEMP TABLE _verdicts_new AS SELECT i.* FROM {changed}")
            copied = int(store.query("SELECT count(*) AS n FROM _verdicts_new")[0]["n"])
            if copied:
                store.execute("DELETE FROM verdicts WHERE id IN (SELECT id FROM _verdicts_new)")
                store.execute(f"INSERT INTO verdicts ({', '.join(COLUMNS)}, imported_at) "
                              f"SELECT {', '.join(COLUMNS)}, ? FROM _verdicts_new", [_now()])
            store.execute("DROP TABLE temp._verdicts_new")
    finally:
        store._con.unregister("_verdicts_in")
    return VerdictCopy(source, read=len(rows), copied=copied)


def _read(source: Path) -> list[dict]:
    # Read-only: the run never writes the reviewers' file (nor creates it).
    con = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=READ_TIMEOUT_S)
    try:
        con.execute(f"PRAGMA busy_timeout={int(READ_TIMEOUT_S * 1000)}")
        found = con.execute(f"SELECT {', '.join(COLUMNS)} FROM reviews ORDER BY id").fetchall()
    finally:
        con.close()
    return [{**dict(zip(COLUMNS, r)), "created_at": _timestamp(r[6])} for r in found]


def _timestamp(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    stamp = datetime.fromisoformat(str(value))
    return stamp.replace(tzinfo=None) if stamp.tzinfo is None else stamp.astimezone(timezone.utc).replace(tzinfo=None)


def sync_for_run(store: Store) -> VerdictCopy:
    """``import_verdicts`` for a run: logs what it did; any failure is a warning (the run goes on)."""
    try:
        result = import_verdicts(store)
    except Exception as e:  # a verdict copy never stops the night
        log.warning("copying the reviewers' verdicts failed (%s: %s); the next run retries", type(e).__name__, e)
        return VerdictCopy(verdicts_path(store.path), warning=str(e))
    if result.warning:
        log.warning("%s", result.warning)
    elif result.read:
        log.info("verdicts: %d in %s, %d new or changed copied to the store", result.read, result.source,
                 result.copied)
    return result
