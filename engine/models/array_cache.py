"""Small arrays computed once per model and kept on disk beside the ONNX graphs: the
embeddings of a taxonomy's examples and the calibration fitted on them, which every process
would otherwise recompute (about two seconds) before its first call.

``cached_arrays(kind, key, compute)`` returns ``compute()``'s arrays, read from
``$WOCAS_CACHE/arrays/<kind>-<key>.npz`` when an earlier process wrote them. ``key`` must
name everything the arrays depend on (``stamp`` names a model folder cheaply). A cache that
cannot be written is skipped silently: the arrays are then computed in each process, as
before. Files are written beside the target and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from wocas.models.onnx_encoder import cache_dir

log = logging.getLogger(__name__)


def stamp(path: Path) -> str:
    """A model file or folder named by path, size and modification time of its files: a
    replaced model gives a new stamp without hashing its weights."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256(str(path.resolve()).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def key_of(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def cached_arrays(kind: str, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    folder = cache_dir().parent / "arrays"
    target = folder / f"{kind}-{key}.npz"
    if target.is_file():
        try:
            with np.load(target, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError) as e:  # a damaged file is recomputed and replaced
            log.warning("array cache %s unreadable (%s); recomputing", target, e)
    arrays = compute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as f:
            np.savez(f, **arrays)
        os.replace(f.name, target)
    except OSError as e:
        log.info("array cache %s not written (%s)", folder, e)
    return arrays
