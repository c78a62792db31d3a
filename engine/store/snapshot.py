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
from datetime import datetime, timezone
from pathlib import Path

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
