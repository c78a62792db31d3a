"""The files of a small fitted head: ``config.json`` (with the ``feature_version`` the features
were built at) and ``head.npz`` (its arrays). Shared by the trust-context and resolution heads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def read_npz_head(folder: str | Path, what: str, feature_version: int, retrain: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(config, arrays) of the head in ``folder``; a clear error when a file is missing or the
    head was built for other features (``retrain`` says how to rebuild it)."""
    folder = Path(folder)
    config_path, weights_path = folder / "config.json", folder / "head.npz"
    if not config_path.is_file() or not weights_path.is_file():
        raise FileNotFoundError(f"{what} {folder}: needs config.json and head.npz")
    config = json.loads(config_path.read_text())
    if config.get("feature_version") != feature_version:
        raise ValueError(f"{what} {folder}: feature version {config.get('feature_version')}, "
                         f"this code builds version {feature_version}; {retrain}")
    with np.load(weights_path) as w:
        return config, {name: w[name] for name in w.files}
