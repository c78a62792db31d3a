"""Read-only snapshots of the store, for the review app.

At the end of each run (and on ``wocas snapshot``) the run, which holds the store, checkpoints
it and copies the file to ``<store>.snapshots/.part-<stamp>``, then renames the copy to
``<stamp>.duckdb`` with ``os.replace`` (atomic in one folder): a reader sees a whole snapshot or
none. The newest name wins; the publisher keeps the last ``KEEP`` (a reader that still has an
older one open keeps reading it). Each snapshot has its own name because DuckDB caches an open
database per path within a process, so a file replaced under the same name would be read stale.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from wocas.errors import StoreMissing
from wocas.store.store import Store

KEEP = 3
SUFFIX = ".duckdb"


def snapshot_dir(store_path: Path) -> Path:
    store_path = Path(store_path)
    return store_path.with_name(store_path.name + ".snapshots")


def latest_snapshot(store_path: Path) -> Path | None:
    """The newest published snapshot of the store, or None when no run has published one."""
    folder = snapshot_dir(store_path)
    if not folder.is_dir():
        return None
    found = sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith("."))
    return found[-1] if found else None


def publish(store) -> Path:
    """Copy the open (writable) ``Store`` to a new snapshot atomically; returns its path."""
    folder = snapshot_dir(store.path)
    folder.mkdir(parents=True, exist_ok=True)
    store.execute("CHECKPOINT")  # everything committed is in the main file, the WAL is empty
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    part = folder / f".part-{stamp}"
    final = folder / f"{stamp}{SUFFIX}"
    try:
        shutil.copyfile(store.path, part)
        with open(part, "rb") as f:
            os.fsync(f.fileno())
        os.replace(part, final)
    finally:
        part.unlink(missing_ok=True)
    for old in sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX))[:-KEEP]:
        old.unlink(missing_ok=True)
    return final


class SnapshotReader:
    """The newest snapshot of a store, opened read-only once per snapshot and shared between
    threads: each ``read()`` gets its own cursor. A newer snapshot is picked up on the next
    ``read()``; the older connection closes when the last reader lets go."""

    def __init__(self, store_path: Path):
        self.store_path = Path(store_path)
        self._lock = threading.Lock()
        self._current: tuple[Path, duckdb.DuckDBPyConnection] | None = None

    def _connection(self) -> tuple[Path, duckdb.DuckDBPyConnection]:
        newest = latest_snapshot(self.store_path)
        with self._lock:
            if newest is None:
                if self._current is not None:
                    return self._current
                raise StoreMissing(f"no snapshot of the store {self.store_path} yet: it is published at the "
                                   f"end of each `wocas run` (or now with `wocas snapshot --out ...`)")
            if self._current is None or self._current[0] != newest:
                self._current = (newest, duckdb.connect(str(newest), read_only=True))
            return self._current

    @contextmanager
    def read(self) -> Iterator[Store]:
        path, connection = self._connection()
        cursor = connection.cursor()
        try:
            yield Store.over(cursor, path)
        finally:
            cursor.close()
